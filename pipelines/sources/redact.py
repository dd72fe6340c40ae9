"""Find and mask personal data before anything is stored: e-mail addresses, phone numbers, payment cards
(Luhn-checked), IBANs (mod-97-checked), street addresses, and @handles.

Detectors favour formats people really write (several countries' phone and address conventions);
numbers that merely look long (order ids, tweet ids, dates, prices) must pass a checksum or a phone shape.
Recall and precision are measured on ``tests/pii/pii_corpus.jsonl`` (see ``tests/test_privacy.py``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

KINDS = ("email", "iban", "card", "phone", "address", "handle")
MASKS = {"email": "[email]", "iban": "[iban]", "card": "[card]", "phone": "[phone]", "address": "[address]",
         "handle": "@user"}


@dataclass(frozen=True)
class RedactionPolicy:
    """Which kinds to mask, in every text (reviews name people's handles too); all on by default."""

    emails: bool = True
    phones: bool = True
    cards: bool = True
    ibans: bool = True
    addresses: bool = True
    handles: bool = True

    def kinds(self) -> tuple[str, ...]:
        wanted = {"email": self.emails, "iban": self.ibans, "card": self.cards, "phone": self.phones,
                  "address": self.addresses, "handle": self.handles}
        return tuple(k for k in KINDS if wanted[k])


@dataclass(frozen=True)
class Span:
    kind: str
    start: int
    end: int


# --- e-mail -------------------------------------------------------------------------------------------
_EMAIL = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._%+\-']*@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}"
    r"|[A-Za-z0-9][A-Za-z0-9._%+\-]*\s?[\[(]\s?at\s?[\])]\s?[A-Za-z0-9\-]+(?:\s?[\[(]\s?dot\s?[\])]\s?[A-Za-z]{2,24})+"
    r"|\b[A-Za-z0-9][\w.+\-]*(?:\s+dot\s+[\w\-]+)*\s+at\s+[\w\-]+(?:\s+dot\s+[A-Za-z]{2,24})+\b",
    re.IGNORECASE,
)

# --- IBAN ---------------------------------------------------------------------------------------------
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ \-]?[A-Z0-9]){11,30}\b")


def iban_is_valid(compact: str) -> bool:
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _find_ibans(text: str) -> list[Span]:
    spans = []
    for match in _IBAN.finditer(text):
        length = IBAN_LENGTHS.get(match.group()[:2])
        if not length:
            continue
        kept, end = 0, match.start()
        for offset, ch in enumerate(match.group()):  # cut the match at the country's length
            if ch.isalnum():
                kept += 1
                if kept == length:
                    end = match.start() + offset + 1
                    break
        compact = re.sub(r"[ \-]", "", text[match.start():end])
        if kept == length and iban_is_valid(compact):
            spans.append(Span("iban", match.start(), end))
    return spans


# --- payment cards ------------------------------------------------------------------------------------
_CARD = re.compile(r"(?<![\d\-])(?:\d{4}[ \-]\d{4}[ \-]\d{4}[ \-]\d{4}(?:[ \-]?\d{3})?|\d{4}[ \-]\d{6}[ \-]\d{4,5}"
                   r"|\d{12,19})(?![\d\-])")
_GROUP_TAIL = re.compile(r"(?<=\d{4}[ \-]\d{4}[ \-]\d{4}[ \-]\d{4})[ \-]?\d{3}$")
_CARD_PREFIX = re.compile(r"^(?:4|5[0-8]|2[2-7]|3[47]|3[068]|6|35|1800|2131)")
# Issuer prefixes with the lengths each issues (Visa 13/16/19, Amex 15, Diners 14, JCB 15, Maestro 12+).
_CARD_LENGTHS = re.compile(r"^(?:\d{16}|3[47]\d{13}|4\d{12}|4\d{18}|3(?:0[0-5]|[68])\d{11,12}|(?:1800|2131)\d{11}"
                           r"|(?:50|5[6-8]|6)\d{10})$")


def luhn_is_valid(digits: str) -> bool:
    total = 0
    for position, ch in enumerate(reversed(digits)):
        value = int(ch) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _find_cards(text: str) -> list[Span]:
    """Valid card numbers; after a candidate that is not one, the search resumes inside it, so a number
    cannot hide a card that overlaps it ("0000 4000 0000 0000 0002")."""
    spans, position = [], 0
    while match := _CARD.search(text, position):
        end = _card_end(match)
        if end is None:
            position = match.start() + 1
        else:
            spans.append(Span("card", match.start(), end))
            position = end
    return spans


def _card_end(match: re.Match) -> int | None:
    """Where the card that ``match`` starts with ends, or None: the grouped form may have swallowed a 3-digit
    group that follows a 16-digit card ("4000 0000 0000 0002 123")."""
    found = match.group()
    for candidate in dict.fromkeys([found, _GROUP_TAIL.sub("", found)]):
        digits = re.sub(r"\D", "", candidate)
        # A bare run of digits is far more often an order or tweet id: only card lengths and issuer prefixes.
        if digits == candidate and not _CARD_LENGTHS.match(digits):
            continue
        if 12 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn_is_valid(digits):
            return match.start() + len(candidate)
    return None


# --- phone numbers ------------------------------------------------------------------------------------
_PHONE = re.compile(
    r"(?<![\w+/.,:\-])"
    r"(?:(?:\+|00)\s?\d{1,3}[\s.\-]?(?:\(0\)\s?)?)?"         # country code, e.g. +44 (0) or 0033
    r"(?:\(\d{1,5}\)[\s.\-]?)?"                              # area code in parentheses
    r"\d(?:[\s.\-/]?\d){5,14}"                               # the number, separators allowed between digits
    r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,5})?"              # extension
    r"(?![\w/])(?![.,]\d)",
    re.IGNORECASE,
)
_PHONE_CONTEXT = re.compile(
    r"(?:call|phone|tel|telephone|mobile|cell|number|no\.|whats\s?app|text(?:ed)? me|sms|reach me|ring|fax|"
    r"hotline|contact|telefon|handy|téléphone|tél|portable|teléfono|móvil|telefono|cellulare|telefoon|"
    r"mobiel|celular|contato)\W{0,12}(?:\w+\W{1,3}){0,3}$",
    re.IGNORECASE,
)
_NOT_PHONE_CONTEXT = re.compile(
    r"(?:order|tracking|case|ticket|reference|ref|confirmation|booking|serial|model|invoice|account|policy|claim|"
    r"customer|member|item|part|transaction|isbn)\W*(?:number|num|no\.?|id|#)?\W*$",
    re.IGNORECASE,
)
_DATE_LIKE = re.compile(r"^\d{1,4}([./\-])\d{1,2}\1\d{1,4}$|^\d{1,2}[:.]\d{2}(?:[:.]\d{2})?$")
_US_SHAPE = re.compile(r"^(?:1[\s.\-])?\(?\d{3}\)?[\s.\-]\d{3}[\s.\-]\d{4}$")
_GROUPED_NATIONAL = re.compile(r"^0\d{1,5}(?:[\s.\-/]\d{2,8}){1,5}$")
_BARE_NATIONAL = re.compile(r"^0[1-9]\d{8,9}$")   # 0 + 9-10 digits: how UK, FR, DE, IT numbers are often typed
_BR_SHAPE = re.compile(r"^\d{2}\s\d{4,5}-\d{4}$")


def _looks_like_phone(candidate: str, before: str) -> bool:
    core = re.sub(r"\s?(?:x|ext\.?|extension)\s?\d{1,5}$", "", candidate, flags=re.IGNORECASE).strip()
    digits = re.sub(r"\D", "", core)
    if not 7 <= len(digits) <= 15 or _DATE_LIKE.match(core) or _NOT_PHONE_CONTEXT.search(before[-40:]):
        return False
    if core.startswith("+"):
        return len(digits) >= 8
    if core.startswith("00"):
        return len(digits) >= 11 and core != digits  # 00 + country code + number, written with separators
    if "(" in core or _US_SHAPE.match(core):
        return len(digits) >= 10 or "(" in core
    if (_GROUPED_NATIONAL.match(core) and len(digits) >= 9) or _BARE_NATIONAL.match(core) or _BR_SHAPE.match(core):
        return True
    return bool(_PHONE_CONTEXT.search(before[-40:]))


def _find_phones(text: str) -> list[Span]:
    spans = []
    for match in _PHONE.finditer(text):
        if _looks_like_phone(match.group(), text[:match.start()]):
            spans.append(Span("phone", match.start(), match.end()))
    return spans


# --- street addresses ---------------------------------------------------------------------------------
_CAP = r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ][\w'’\-]*"   # a capitalised word, not an acronym like USB
_EN_SUFFIX = (  # street types (USPS, Royal Mail, Australia Post); the pattern also accepts a plural "s"
    r"Alley|Arcade|Artery|Av|Ave|Avenue|Bluff|Blvd|Boardwalk|Bottom|Boulevard|Branch|Break|Bridge|"
    r"Broadway|Brook|Burg|Bypass|Camp|Canyon|Cape|Causeway|Center|Chase|Cir|Circle|Circuit|Cliff|Close|"
    r"Club|Colonnade|Common|Concourse|Corner|Corso|Course|Court|Courtyard|Cove|Creek|Cres|Crescent|Crest|"
    r"Crossing|Crossroad|Crossway|Ct|Cul-de-sac|Curve|Cutting|Dale|Dam|Dell|Divide|Dr|Drive|Driveway|"
    r"Embankment|Entrance|Esplanade|Estate|Expressway|Extension|Fairway|Falls|Ferry|Field|Firetrail|Flat|"
    r"Follow|Footway|Ford|Forest|Forge|Fort|Freeway|Frontage|Gap|Gardens|Gate|Gateway|Glade|Glen|Grange|"
    r"Green|Grove|Harbor|Harbour|Haven|Heights|Highroad|Highway|Hill|Hollow|Hub|Hwy|Inlet|Island|Isle|"
    r"Junction|Key|Knoll|Lake|Landing|Lane|Laneway|Light|Ln|Lock|Lodge|Lookout|Loop|Mall|Manor|Meadow|"
    r"Mews|Mill|Mission|Motorway|Mountain|Neck|Nook|Orchard|Outlook|Oval|Overpass|Parade|Park|Parklands|"
    r"Parkway|Pass|Passage|Path|Pathway|Pike|Pine|Pkwy|Pl|Place|Plain|Plaza|Pocket|Point|Port|Prairie|"
    r"Promenade|Quay|Radial|Ramble|Ramp|Ranch|Rapid|Rd|Reach|Rest|Retreat|Ride|Ridge|Rise|River|Road|"
    r"Rosebowl|Rotary|Round|Route|Row|Run|Serviceway|Shoal|Shore|Skyway|Spring|Spur|Sq|Square|St|Station|"
    r"Strand|Stravenue|Stream|Street|Subway|Summit|Ter|Terrace|Thoroughfare|Throughway|Tollway|Top|Tor|"
    r"Towers|Trace|Track|Trafficway|Trail|Trl|Tunnel|Turnpike|Underpass|Union|Upper|Vale|Valley|Viaduct|"
    r"View|Village|Ville|Vista|Walk|Walkway|Wall|Waters|Waterway|Way|Well|Wharf|Wynd"
)
_EN_ADDRESS = (
    rf"(?:\b(?:Flat|Studio|Apartment|Apt\.?|Unit|Suite)\s+\w{{1,5}},?[ \t]+"        # Studio 01, Rose Parkways
    rf"(?:\d{{1,5}}[A-Za-z]?(?:[\-/]\d{{1,4}})?,?[ \t]+)?"
    rf"|\b\d{{1,5}}[A-Za-z]?(?:[\-/]\d{{1,4}})?,?[ \t]+)"
    rf"(?:[NSEW]\.?\s+|North\s+|South\s+|East\s+|West\s+)?"
    rf"(?:(?:{_CAP}|\d{{1,3}}(?:st|nd|rd|th))[ \t]+){{1,3}}(?:{_EN_SUFFIX})s?\b\.?"
    rf"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Fl\.?|#)\s*[\w\-]{{1,6}})?"
)
_EU_NAME_FIRST = (
    r"\b(?:[A-ZÄÖÜÀ-Þ][\wäöüßÀ-ÿ]{2,}|[A-ZÄÖÜÀ-Þ][\wäöüßÀ-ÿ\-]*-(?=[A-Z]))"   # Bartring, Dennis-Hettner-Ring
    r"(?i:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|"
    r"straat|laan|gracht|plein|kade|singel|dijk|steeg|pad|hof|boulevard|dreef|markt|erf|"
    r"vej|gade|gatan|vägen|veien|gata|katu|tie)"
    r"\s+\d{1,4}\s?[a-zA-Z]?(?:[\-/]\d{1,4})?\b"
    r"|\b(?:Am|An der|Auf der|Im|In der|Zum|Zur)\s+[A-ZÄÖÜ][\wäöüß\-]+\s+\d{1,4}[a-z]?\b"
    r"|\b(?:ul\.|ulica|al\.|aleja|pl\.|plac|os\.|osiedle)\s+(?:[A-ZĄĆĘŁŃÓŚŹŻ][\wąćęłńóśźż\-]+\s+){1,3}"
    r"\d{1,4}[a-zA-Z]?(?:/\d{1,4})?"                                                      # Polish
    r"|\b(?:H\.?\s?No\.?\s*)?\d{1,4}(?:/\d{1,4})?,\s+(?:[A-Z][a-z]+\s+){1,3}"
    r"(?:Nagar|Ganj|Chowk|Marg|Path|Zila|Colony|Puram|Pur|Bagh|Vihar|Enclave|Layout|Road|Cross|Main)\b"  # Indian
)
_ROMANCE = (
    r"\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|cours|route|"
    r"square|passage)\s+(?:(?:de la|de l'|du|des|de|d')\s*)?" + _CAP + r"(?:[\s\-]+(?:de |du |la |le |des )?" + _CAP
    + r"){0,4}"
    r"|\b(?:Calle|C/|Avda\.?|Avenida|Plaza|Pza\.?|Paseo|Pº|Carrer|Carretera|Ronda|Travesía|Pasaje|Pasadizo|"
    r"Glorieta|Urbanización|Camino|Callejón|Rambla|Cuesta|Vía|Via|Viale|Piazza|Piazzale|Corso|Largo|Vicolo|"
    r"Borgo|Contrada|Strada|Lungomare|Salita|Rotonda|Canale|Stretto|Incrocio|Rua|Travessa|Praça|Alameda|"
    r"Estrada|Rodovia|Ladeira|Viela|Vila|Loteamento|Conjunto|Quadra|Setor|Chácara|Fazenda|Residencial|Morro|"
    r"Sítio|Estação|Feira)\s+"
    r"(?:(?:de la|de los|de las|del|de|da|do|dos|das|di|della|dei|degli)\s+)?" + _CAP
    + r"(?:\s+(?:de |del |da |do |di |della )?" + _CAP + r"){0,4},?\s*(?:n[º°o.]\s*)?\d{1,4}[A-Za-z]?"
    r"(?:,?\s*\d{1,2}[º°]\s?[A-Za-z]{0,3})?"
    r"(?:,?\s+(?:Puerta|Piso|Planta|Bajo|Apt\.?|Appartamento|Piano|Interno|Scala|Apto\.?|Bloco|Casa)\s*\w{1,4})?"
    r"|\b(?:rue|avenue|boulevard|chemin|allée|impasse|place)\s+(?:(?:de la|de l'|du|des|de|d')\s*)?" + _CAP
    + r"(?:\s" + _CAP + r"){0,3}(?=,?\s+\d{5}\s)"    # French street without a number: only before a postcode
    r"|\bPSC\s+\d{4},\s+Box\s+\d{4}"                # US military mail
)
_CITY = _CAP + r"(?:[\s\-]" + _CAP + r"){0,2}"
_POSTAL_TAIL = (
    r"(?:\s*,?\s+(?:(?:\d{4,5}|\d{2}-\d{3}|\d{5}-?\d{3}|\d{4}\s?[A-Z]{2})\s+" + _CITY + r"(?:\s*/\s*[A-Z]{2})?"
    r"|" + _CITY + r",\s+\d{5}-?\d{3}\s+(?:d[aeo]s?\s+)?" + _CITY + r"\s*/\s*[A-Z]{2}"    # Bairro, CEP Cidade / UF
    r"|(?:" + _CITY + r",\s+)?" + _CITY + r",?\s+[A-Z]{2,3},?\s+(?:\d{4,5}(?:-\d{4})?|[A-Z]\d[A-Z]\s?\d[A-Z]\d)"
    r"|" + _CITY + r",\s+\d{5}"                                                   # Teruel, 02185
    r"|\d{5},\s+" + _CITY + r"(?:\s\([A-Z]{2}\))?"                                # 16126, Genova (GE)
    r"|" + _CITY + r"[\s\-]\d{6}"                                                  # Surat-877065
    r"|(?:" + _CAP + r",?\s+)?[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}"                  # London SW1A 1AA
    r"|APO\s+A[AEP]\s+\d{5}))?"
)
_ADDRESS = re.compile(rf"(?:{_EN_ADDRESS}|{_EU_NAME_FIRST}|{_ROMANCE}|\bP\.?\s?O\.?\s+Box\s+\d{{1,6}}){_POSTAL_TAIL}")


def _find_addresses(text: str) -> list[Span]:
    return [Span("address", m.start(), m.end()) for m in _ADDRESS.finditer(text)]


# --- social handles -----------------------------------------------------------------------------------
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_]{1,30}(?![\w@])")


def _find_handles(text: str) -> list[Span]:
    return [Span("handle", m.start(), m.end()) for m in _HANDLE.finditer(text) if m.group() != "@user"]


def _find_emails(text: str) -> list[Span]:
    return [Span("email", m.start(), m.end()) for m in _EMAIL.finditer(text)]


_FINDERS = {"email": _find_emails, "iban": _find_ibans, "card": _find_cards, "phone": _find_phones,
            "address": _find_addresses, "handle": _find_handles}
_DIGIT = re.compile(r"\d")
_DIGITS_NEEDED = {"iban": 10, "card": 12, "phone": 7, "address": 1}


_WORD = re.compile(r"[^\W\d_]{2}")  # every address has a name in it; ids, dates and prices do not
# Every e-mail match has "@domain.tld" or a spelled-out "dot"; the pattern tries every position of a text, so
# this keeps it off posts whose "@" is a handle (70 µs per tweet).
_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9][A-Za-z0-9.\-]*\.[A-Za-z]{2}", re.IGNORECASE)


def find_pii(text: str, kinds: tuple[str, ...] = KINDS) -> list[Span]:
    """Non-overlapping spans, earlier kinds in ``KINDS`` winning overlaps (an e-mail is not also a handle).

    Cheap gates first (enough digits, an "@", "@domain.tld" or "dot", a word next to a number) keep the large
    patterns off the many strings that cannot match: ids, dates, ratings, short fields.
    """
    return list(_find_pii(text, kinds))


@functools.lru_cache(maxsize=1024)  # a post's body often recurs as raw text and as a payload field
def _find_pii(text: str, kinds: tuple[str, ...]) -> tuple[Span, ...]:
    digits = len(_DIGIT.findall(text)) if any(k in _DIGITS_NEEDED for k in kinds) else 0
    lowered = text.lower()
    taken: list[Span] = []
    for kind in kinds:
        if kind in _DIGITS_NEEDED and digits < _DIGITS_NEEDED[kind] and not (kind == "address" and "box" in lowered):
            continue
        if kind == "address" and not _WORD.search(text):
            continue
        if kind == "handle" and "@" not in text:
            continue
        if kind == "email" and "dot" not in lowered and not _EMAIL_DOMAIN.search(text):
            continue
        for span in _FINDERS[kind](text):
            if all(span.end <= t.start or span.start >= t.end for t in taken):
                taken.append(span)
    return tuple(sorted(taken, key=lambda s: s.start))


def redact(text: str, policy: RedactionPolicy = RedactionPolicy()) -> str:  # noqa: B008
    """``text`` with every detected span replaced by its mask, e.g. ``[email]``."""
    if len(text) < 5:  # nothing personal fits (a handle needs "@" and two characters)
        return text
    spans = find_pii(text, policy.kinds())
    if not spans:
        return text
    parts, cursor = [], 0
    for span in spans:
        parts += [text[cursor:span.start], MASKS[span.kind]]
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts)
