"""PLACEHOLDER: the ptycho-metrics console script is being written by a helper."""


def main() -> int:  # placeholder
    raise NotImplementedError
