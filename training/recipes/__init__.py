"""Training recipes, one per model: an explicit table, no registry magic."""

from __future__ import annotations

import importlib

RECIPES = {
    "faceid": "training.recipes.faceid",
    "frrnet": "training.recipes.frrnet",
    "gfrnet": "training.recipes.gfrnet",
    # one recipe, two objectives shipped as two models
    "progressive_16": "training.recipes.progressive:Recipe16",
    "progressive_128": "training.recipes.progressive:Recipe128",
    "stylegan_prior": "training.recipes.stylegan_prior",
    "mmrb_stylegan": "training.recipes.mmrb_stylegan",
    "vq_unet": "training.recipes.vq_unet",
    # not face restorers: the whole-photo scratch and dust detector and the learned fill of what it marks
    # (frstudio.core.scratches)
    "damage": "training.recipes.damage",
    "fill": "training.recipes.fill",
}


def load_recipe(name: str):
    if name not in RECIPES:
        raise SystemExit(f"no recipe for '{name}'; known: {', '.join(RECIPES)}")
    module, _, attr = RECIPES[name].partition(":")
    return getattr(importlib.import_module(module), attr or "Recipe")
