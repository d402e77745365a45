"""Private, thin command line: argument parsing and progress only.

Every command calls the public library; nothing here is an algorithm.
"""
