"""The data: Market-1501 layout and names, PATN keypoint files, poses, heatmaps, semantic maps, images, the BlazePose
estimator, and the embedded synthetic stand-in (`data.synthetic`)."""
