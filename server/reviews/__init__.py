"""Reviews of governed register entries and the suppliers behind them."""
