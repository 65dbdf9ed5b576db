"""The image classification reference service: a small CNN on scikit-learn's digits."""
