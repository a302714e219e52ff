"""MMP chapter: its experiment grid (`grid.py`) and its declared claims (`paper_claims.py`)."""
