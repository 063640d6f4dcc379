"""The augmentation protocols of the field: keep a portion p of each identity (`portion`), or add K-1 images per image
(`factor`), the choice of condition images (`conditions`)."""
