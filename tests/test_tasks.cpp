// Tests for issue 11: filled in on its branch.
