"""`mlobs investigate`: from an SLO or quality breach to a ranked, evidenced cause.

It finds when the breach began (its onset) and tests, against Prometheus, the hypotheses an
on-call engineer would check first, in this order: a data-pipeline artifact, input drift, a shift
in the model's outputs, a model version change, and plain serving trouble. Each gets a score and
the numbers behind it, with the PromQL that produced them.
"""
