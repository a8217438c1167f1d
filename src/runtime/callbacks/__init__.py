"""Lightning callbacks every run may use: EMA of the weights, the non-finite guard, the RNG state."""
