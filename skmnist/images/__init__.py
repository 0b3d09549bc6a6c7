"""Images from any source: photo decoding, MNIST-style centring, and the pixel
arithmetic (NumPy alone) shared by FlattenScaler and the light predictor.
"""
