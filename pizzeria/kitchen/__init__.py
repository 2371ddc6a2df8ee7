"""The kitchen: bakes one pizza per DoPizza, the heavy work, and keeps a record of each bake."""
