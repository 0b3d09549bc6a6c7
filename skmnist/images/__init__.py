"""Images from any source: photo decoding, MNIST-style centring, THE check of
arrays of images (``_arrays``: what an array of pixel values means, whatever its
source), and the pixel arithmetic (NumPy alone) shared by FlattenScaler and the
light predictor.
"""
