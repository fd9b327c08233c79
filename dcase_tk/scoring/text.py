"""The plain-text tables of ``result.txt`` files."""


def pct(value):
    """A fraction as a percentage with one decimal; ``-`` for None."""
    return "-" if value is None else f"{100 * value:.1f}"


def text_table(rows, footer=()):
    """``rows`` (the first is the header) and ``footer`` rows as aligned columns (first left,
    others right), a rule under the header and one between the body and the footer."""
    footer = list(footer)
    everything = rows + footer
    widths = [max(len(r[i]) for r in everything) for i in range(len(rows[0]))]

    def line(row):
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(row, widths))).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    lines = [line(rows[0]), rule] + [line(r) for r in rows[1:]]
    if footer and len(rows) > 1:
        lines.append(rule)
    lines += [line(r) for r in footer]
    return "\n".join(lines) + "\n"
