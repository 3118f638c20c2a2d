"""PLACEHOLDER: being written by a helper; replaced before landing."""
def FRCResolution(*args, **kwargs):  # placeholder
    raise NotImplementedError
def FRCResult(*args, **kwargs):  # placeholder
    raise NotImplementedError
def frc(*args, **kwargs):  # placeholder
    raise NotImplementedError
