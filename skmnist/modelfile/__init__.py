"""Model files: the format, save_model / load_model, the one reader and its
checks, the light NumPy predictor, and the model fed 0-255 images that the
command line and the service share.
"""
