"""How people are named to people: by their name, not their username."""


def display_name(user, empty: str = "—") -> str:
    """A person's full name, else their username (a name may be left empty);
    `empty` when there is no person (monitoring filed it, nobody owns it)."""
    if user is None:
        return empty
    return user.get_full_name().strip() or user.username


def display_names(users, empty: str = "—") -> str:
    """Several people, by name, in the order given ("Wang Fang, Zhao Lei")."""
    return ", ".join(display_name(user) for user in users) or empty
