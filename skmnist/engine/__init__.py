"""What trains a network: the Keras graph builder, batches, one module per
backend, the compiled cache, resumable end states, the epoch loop, progress,
and the once-per-process runtime. Only the estimator calls into it.
"""
