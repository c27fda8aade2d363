"""Training recipes: 2D pretraining on still faces, then 3D training on clips."""
