"""Demonyms and common country aliases -> ISO 3166-1 alpha-2.

GeoNames has country names but neither demonyms ("Japanese") nor the short forms news
uses ("U.S.", "Britain"); this table supplies them. Keys are matched case-sensitively
against entity/token text after stripping a trailing "s" for plurals ("Russians").
"""

from __future__ import annotations

COUNTRY_ALIASES: dict[str, str] = {
    "U.S.": "US", "US": "US", "USA": "US", "U.S.A.": "US", "America": "US",
    "United States of America": "US", "the United States": "US",
    "Britain": "GB", "Great Britain": "GB", "UK": "GB", "U.K.": "GB", "England": "GB",
    "Scotland": "GB", "Wales": "GB", "Northern Ireland": "GB",
    "Russia": "RU", "Russian Federation": "RU", "Soviet Union": "RU", "USSR": "RU",
    "South Korea": "KR", "North Korea": "KP", "Korea": "KR",
    "Taiwan": "TW", "Iran": "IR", "Syria": "SY", "Vietnam": "VN", "Laos": "LA",
    "Bolivia": "BO", "Venezuela": "VE", "Tanzania": "TZ", "Moldova": "MD",
    "Czech Republic": "CZ", "Czechia": "CZ", "Czechoslovakia": "CZ",
    "Holland": "NL", "The Netherlands": "NL", "Ivory Coast": "CI", "Cote d'Ivoire": "CI",
    "Burma": "MM", "Myanmar": "MM", "East Timor": "TL", "UAE": "AE", "U.A.E.": "AE",
    "West Germany": "DE", "East Germany": "DE", "Hong Kong": "HK", "Macau": "MO",
    "Palestine": "PS", "Gaza": "PS", "West Bank": "PS", "Vatican": "VA", "Kosovo": "XK",
    "Congo": "CG", "Democratic Republic of Congo": "CD", "DR Congo": "CD", "Zaire": "CD",
    "Brunei": "BN", "Cape Verde": "CV", "Swaziland": "SZ", "Macedonia": "MK",
    "Micronesia": "FM", "St Lucia": "LC", "Saint Lucia": "LC", "Turkiye": "TR",
}

DEMONYMS: dict[str, str] = {
    "Afghan": "AF", "Albanian": "AL", "Algerian": "DZ", "American": "US", "Angolan": "AO",
    "Argentine": "AR", "Argentinian": "AR", "Armenian": "AM", "Australian": "AU",
    "Austrian": "AT", "Azerbaijani": "AZ", "Bahraini": "BH", "Bangladeshi": "BD",
    "Belarusian": "BY", "Belgian": "BE", "Bolivian": "BO", "Bosnian": "BA",
    "Brazilian": "BR", "British": "GB", "Briton": "GB", "Bulgarian": "BG", "Burmese": "MM",
    "Cambodian": "KH", "Cameroonian": "CM", "Canadian": "CA", "Chilean": "CL",
    "Chinese": "CN", "Colombian": "CO", "Congolese": "CD", "Croatian": "HR", "Cuban": "CU",
    "Cypriot": "CY", "Czech": "CZ", "Danish": "DK", "Dane": "DK", "Dutch": "NL",
    "Ecuadorian": "EC", "Egyptian": "EG", "English": "GB", "Eritrean": "ER",
    "Estonian": "EE", "Ethiopian": "ET", "Filipino": "PH", "Finnish": "FI", "Finn": "FI",
    "French": "FR", "Georgian": "GE", "German": "DE", "Ghanaian": "GH", "Greek": "GR",
    "Guatemalan": "GT", "Haitian": "HT", "Honduran": "HN", "Hungarian": "HU",
    "Icelandic": "IS", "Indian": "IN", "Indonesian": "ID", "Iranian": "IR", "Iraqi": "IQ",
    "Irish": "IE", "Israeli": "IL", "Italian": "IT", "Ivorian": "CI", "Jamaican": "JM",
    "Japanese": "JP", "Jordanian": "JO", "Kazakh": "KZ", "Kenyan": "KE", "Korean": "KR",
    "South Korean": "KR", "North Korean": "KP", "Kuwaiti": "KW", "Kyrgyz": "KG",
    "Lao": "LA", "Latvian": "LV", "Lebanese": "LB", "Liberian": "LR", "Libyan": "LY",
    "Lithuanian": "LT", "Luxembourgish": "LU", "Malaysian": "MY", "Malian": "ML",
    "Maltese": "MT", "Mexican": "MX", "Moldovan": "MD", "Mongolian": "MN",
    "Moroccan": "MA", "Mozambican": "MZ", "Namibian": "NA", "Nepalese": "NP",
    "Nepali": "NP", "New Zealander": "NZ", "Nicaraguan": "NI", "Nigerian": "NG",
    "Nigerien": "NE", "Norwegian": "NO", "Omani": "OM", "Pakistani": "PK",
    "Palestinian": "PS", "Panamanian": "PA", "Paraguayan": "PY", "Peruvian": "PE",
    "Philippine": "PH", "Polish": "PL", "Pole": "PL", "Portuguese": "PT", "Qatari": "QA",
    "Romanian": "RO", "Russian": "RU", "Rwandan": "RW", "Saudi": "SA",
    "Saudi Arabian": "SA", "Scottish": "GB", "Senegalese": "SN", "Serbian": "RS",
    "Serb": "RS", "Singaporean": "SG", "Slovak": "SK", "Slovenian": "SI", "Somali": "SO",
    "South African": "ZA", "Soviet": "RU", "Spanish": "ES", "Spaniard": "ES",
    "Sri Lankan": "LK", "Sudanese": "SD", "Swedish": "SE", "Swede": "SE", "Swiss": "CH",
    "Syrian": "SY", "Taiwanese": "TW", "Tajik": "TJ", "Tanzanian": "TZ", "Thai": "TH",
    "Tunisian": "TN", "Turkish": "TR", "Turk": "TR", "Turkmen": "TM", "Ugandan": "UG",
    "Ukrainian": "UA", "Emirati": "AE", "Uruguayan": "UY", "Uzbek": "UZ",
    "Venezuelan": "VE", "Vietnamese": "VN", "Welsh": "GB", "Yemeni": "YE",
    "Zambian": "ZM", "Zimbabwean": "ZW",
}


def demonym_country(text: str) -> str | None:
    """Country code of a demonym ("Japanese", "Russians", "Russian-Japanese" -> first part)."""
    code = DEMONYMS.get(text)
    if code is None and text.endswith("s"):
        code = DEMONYMS.get(text[:-1])
    return code
