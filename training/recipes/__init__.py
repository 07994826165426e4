"""Training recipes, one per model: an explicit table, no registry magic."""

from __future__ import annotations

import importlib

RECIPES = {
    "faceid": "training.recipes.faceid",
    "frrnet": "training.recipes.frrnet",
    "gfrnet": "training.recipes.gfrnet",
}


def load_recipe(name: str):
    if name not in RECIPES:
        raise SystemExit(f"no recipe for '{name}'; known: {', '.join(RECIPES)}")
    return importlib.import_module(RECIPES[name]).Recipe
