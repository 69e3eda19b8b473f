# expect: memory_exceeded
chunks = []
while True:
    chunks.append(bytearray(10 * 1024 * 1024))
