# expect: output_limit
with open("big.bin", "wb") as f:
    while True:
        f.write(b"0" * (1 << 20))
        f.flush()
