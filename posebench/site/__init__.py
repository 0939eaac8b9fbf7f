"""Static leaderboard site: `build_site(folder, out)` (see posebench.site.builder)."""

from posebench.site.builder import build_site

__all__ = ["build_site"]
