"""Explore a collection: the embedding store, search by example, clusters, maps and a labelling loop."""
