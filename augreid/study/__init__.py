"""The study: Table VI, paired comparisons between its cells, and the statistics behind them."""
