"""coderl: post-train a code LLM with verl and judge every checkpoint by running its code."""

__version__ = "0.1.0"
