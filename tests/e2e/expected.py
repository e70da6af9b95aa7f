"""What the bundled sample manifest must come out as, item by item (verdict, a reason it must carry)."""

SAMPLE_EXPECTED: dict[str, tuple[str, str]] = {
    "news-1": ("consent", "deal:deal-daily-news"),
    "photo-licensed-1": ("consent", "deal:deal-photo-licensed"),  # a deal beats the reservation
    "photo-gallery-1": ("violation", "reservation:res-photo-collective"),  # beats CC-BY
    "old-archive-1": ("violation", "no-licence"),  # its deal expired
    "music-1": ("consent", "licence:CC-BY-4.0"),  # deal revoked, but the licence still allows
    "laundered-1": ("violation", "licence-laundering"),  # registry says all rights reserved
    "cc-by-1": ("consent", "duty:attribution"),
    "cc-by-nc-1": ("violation", "licence-non-commercial:CC-BY-NC-4.0"),
    "mit-1": ("consent", "licence:MIT"),
    "cc-by-nd-1": ("violation", "licence-no-derivatives:CC-BY-ND-4.0"),
    "no-licence-1": ("violation", "no-licence"),
    "unknown-licence-1": ("violation", "licence-unverified:Foo-Proprietary-1.0"),
    "reserved-hash-1": ("violation", "reservation:res-hash-all-uses"),
    "cc-by-sa-1": ("consent", "duty:share-alike"),
    "public-domain-1": ("consent", "licence:CC0-1.0"),
    "book-1": ("violation", "reservation:res-book-isbn"),  # matched by its ISBN, on any host
    "press-us-1": ("consent", "duty:attribution"),  # reserved in FR and DE; the manifest is for the US
}

EXTRA_REASONS: dict[str, str] = {
    "old-archive-1": "deal-expired:deal-old-archive",
    "music-1": "deal-revoked:deal-music-label",
    "laundered-1": "work-licence:work-illustration-17",
}
