"""A pose estimator that runs offline on CPU: keypoints and person masks for any person image
(`augreid.annotate`), and the keypoints of generated images that PCKh scores (`augreid.quality`)."""
