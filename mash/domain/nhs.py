"""NHS number check digit (Modulus 11), as published by NHS Digital."""

WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def nhs_number_problem(value: str) -> str | None:
    """Why `value` is not a valid NHS number, or None when it is.

    The reason never repeats the number itself, so it is safe to show and log.
    """
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return "must be exactly 10 digits"
    total = sum(int(d) * w for d, w in zip(value[:9], WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10 or check != int(value[9]):
        return "fails the Modulus 11 check digit"
    return None
