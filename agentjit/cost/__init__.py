"""The cost model: latency distributions learned from runs, and the Monte Carlo simulator that
predicts a plan's makespan from them."""
