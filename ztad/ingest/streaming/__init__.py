"""The machinery the vendor formats share: files read in bounded blocks, JSON records decoded
in C into Arrow columns, two reader stages overlapped, and the batches every adapter emits."""
