"""Where generated images come from: augreid checkpoints, the authors' published weights, plugins, and images made
elsewhere; `source.ImageSource` gives them one interface."""
