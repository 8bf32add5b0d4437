// lean CPU backend
