"""Print column statistics of a CSV file."""
import csv
import statistics
import sys


def evaluate(rows):
    columns = {}
    for row in rows:
        for key, value in row.items():
            try:
                columns.setdefault(key, []).append(float(value))
            except ValueError:
                pass
    return {key: statistics.mean(values) for key, values in columns.items() if values}


with open(sys.argv[1], newline="") as handle:
    print(evaluate(csv.DictReader(handle)))
