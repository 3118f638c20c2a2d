"""PLACEHOLDER: being written by a helper; replaced before landing."""
def Alignment(*args, **kwargs):  # placeholder
    raise NotImplementedError
def align(*args, **kwargs):  # placeholder
    raise NotImplementedError
