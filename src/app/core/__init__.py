"""Infrastructure every feature may use: database, security, errors, logging."""
