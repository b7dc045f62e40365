"""How people are named to people: by their name, not their username."""


def display_name(user, empty: str = "—") -> str:
    """A person's full name, else their username (a name may be left empty);
    `empty` when there is no person (monitoring filed it, nobody owns it)."""
    if user is None:
        return empty
    return name_of(user.first_name, user.last_name, user.username)


def name_of(first_name: str, last_name: str, username: str) -> str:
    """A person's name from their columns (Django's get_full_name, else the
    username): display_name, and list rows read with .values()."""
    return f"{first_name} {last_name}".strip() or username


def display_names(users, empty: str = "—") -> str:
    """Several people, by name, in the order given ("Wang Fang, Zhao Lei")."""
    return ", ".join(display_name(user) for user in users) or empty
