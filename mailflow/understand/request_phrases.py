"""What people write when they ask to meet, and what mail that is not a request says: one table.

Each row is a phrase family in one language (or ``any``): a pattern, its weight and the label that
names it in the reasons.  Rows that share a label are one signal: it counts once, whichever
language fired it, so every row of a label carries the same weight.

Mail is hostile input, so the patterns stay linear: words joined by ``\\s+``, gaps bounded
(``[^.?!\\n]{0,60}``: within one sentence), repeats bounded, no ``.*``.  The languages are a note
for the reader and the tests: every row is tried on every mail.
"""

from __future__ import annotations

from typing import NamedTuple


class Phrase(NamedTuple):
    pattern: str
    weight: float
    label: str
    language: str  # en, fr, de, es or any


# one sentence, bounded: how far apart two parts of a phrase may be
GAP = r"[^.?!\n]{0,60}"
LONG_GAP = r"[^.?!\n]{0,100}"
# the rest of a sentence that ends with a question mark (a "?" inside a link does not count)
QUESTION_END = r"\b[^.!?]{0,80}\?(?![\w=&%/])"

EN_DAYS = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
FR_DAYS = r"(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)"
DE_DAYS = r"(?:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag)"
ES_DAYS = r"(?:lunes|martes|miércoles|jueves|viernes|sábado|domingo)"

INFORMATIONAL = "asks for an informational interview"
TIME = "asks for some of your time"
BRAIN = "wants to pick your brain"
SUGGESTS = "suggests meeting"
FREE = "asks whether you are free"
COFFEE = "suggests coffee or a meal"
QUESTION = "asks a question about meeting"
FORM = "mentions a chat, call or meeting"
DURATION = "names a short duration"
SHORT = "asks for a short call or chat"
DAY = "names a day to come, without a time"
FLEXIBLE = "offers to fit your calendar"
REASON = "gives a reason about career or advice"
CONTEXT = "gives a context for the contact"
ON_BEHALF = "asks to meet on someone else's behalf"
NOW = "asks to speak right now"
URGENT = "sounds urgent"
SECRET = "asks for a discreet favour"
MONEY = "mentions money or credentials"
SALES = "reads like a sales pitch"
FOOTER = "has a mailing-list footer"
PAST = "thanks for a meeting that already happened"
EVENT = "announces an event or a webinar"
NOTIFICATION = "reads like a calendar notification"
RECEIPT = "reads like a receipt or a booking"
JOBS = "reads like a job alert"
AUTO = "reads like an automatic reply"

PHRASES: tuple[Phrase, ...] = (
    # -- asks to meet --------------------------------------------------------------------------
    Phrase(r"\binfo(?:rmation(?:al)?)?\s+(?:interview|chat|call|meeting|conversation)", 0.55, INFORMATIONAL, "en"),
    Phrase(r"\bentretien\s+(?:informatif|d'information|exploratoire)", 0.55, INFORMATIONAL, "fr"),
    Phrase(r"\b(?:informations|kennenlern|orientierungs)gespräch", 0.55, INFORMATIONAL, "de"),
    Phrase(r"\bentrevista\s+(?:informativa|de\s+orientación)", 0.55, INFORMATIONAL, "es"),
    # a question that names time: "would you have half an hour", "could we find 30 minutes"
    Phrase(rf"\b(?:would|do|could|can|might)\s+you\s+(?:have|spare|find|give|set\s+aside|be\s+(?:willing|able)\s+to\s+(?:spend|give|spare|find)){GAP}\b(?:time|minutes?|hour|moment)\b", 0.45, TIME, "en"),
    Phrase(rf"\b(?:could|can|shall)\s+we\s+(?:find|have|set\s+aside|book|schedule){GAP}\b(?:time|minutes|hour|slot)\b", 0.45, TIME, "en"),
    Phrase(r"\b(?:\d{1,2}|ten|fifteen|twenty|thirty|a\s+few)\s+minutes\s+of\s+your\s+(?:time|advice)|\bif\s+you\s+(?:can|could)\s+spare\b", 0.45, TIME, "en"),
    Phrase(rf"\b(?:auriez|aurais|avez|as)-(?:vous|tu)\b{GAP}\b(?:minutes?|moment|créneau|heure|instant|temps)\b", 0.45, TIME, "fr"),
    Phrase(rf"\b(?:tu\s+aurais|vous\s+auriez|tu\s+as|vous\s+avez)\b{GAP}\b(?:minutes?|moment|créneau|heure|instant)\b", 0.45, TIME, "fr"),
    Phrase(rf"\b(?:m'|me\s+|lui\s+|leur\s+|nous\s+)(?:accorder|consacrer)\b{GAP}\b(?:minutes?|moment|heure|temps)\b", 0.45, TIME, "fr"),
    Phrase(rf"\b(?:hätten|haben|hättest|hast)\s+(?:sie|du)\b{GAP}\b(?:zeit|gelegenheit|minuten|stunde|viertelstunde)\b", 0.45, TIME, "de"),
    Phrase(rf"\b(?:tendrías|tendría|tienes|tiene)\b{GAP}\b(?:tiempo|un\s+rato|minutos|media\s+hora|un\s+momento|hueco)\b", 0.45, TIME, "es"),
    Phrase(r"\b(?:dedicarme|concederme|regalarme)\b", 0.45, TIME, "es"),
    # wants to ask questions of someone who has done it
    Phrase(r"\bpick\s+your\s+brains?\b|\btap\s+(?:into\s+)?your\s+(?:brain|expertise|knowledge)\b", 0.4, BRAIN, "en"),
    Phrase(r"\bask\s+you\s+(?:a\s+few|some|a\s+couple\s+of)\s+questions\b|\b(?:have|got)\s+(?:a\s+few|some|a\s+couple\s+of)\s+questions\s+(?:for\s+you|about)\b", 0.4, BRAIN, "en"),
    Phrase(r"\b(?:vous|te)\s+poser\s+(?:quelques|deux|trois|mes|des)\s+questions\b|\bprofiter\s+de\s+(?:votre|ton)\s+(?:expérience|expertise)\b", 0.4, BRAIN, "fr"),
    Phrase(r"\bausfragen\b|\b(?:ein\s+paar|einige|zwei,?\s+drei|ein,?\s+zwei)\s+fragen\b", 0.4, BRAIN, "de"),
    Phrase(r"\b(?:hacerte|hacerle|preguntarte)\s+(?:unas|algunas|un\s+par\s+de)\s+preguntas\b|\b(?:te|le)\s+robo\b|\brobarte\b", 0.4, BRAIN, "es"),
    # a suggestion or a question to meet: "could we", "let's", "how about", "would it be possible"
    Phrase(r"\b(?:could|can|shall|should)\s+we\s+(?:meet|talk|chat|speak|catch\s+up|grab|get\s+together|set\s+up|schedule|arrange|find|do|have|hop\s+on|jump\s+on)\b", 0.4, SUGGESTS, "en"),
    Phrase(r"\blet(?:'s|\s+us)\s+(?:grab|meet|get|have|do|catch\s+up|find|set\s+up|schedule|talk|chat|plan)\b|\bhow\s+about\s+(?:a|we|grabbing|meeting|lunch|coffee)\b|\bwhy\s+don't\s+we\b", 0.4, SUGGESTS, "en"),
    Phrase(r"\b(?:would|is)\s+it\s+be\s+possible\s+to\s+(?:meet|talk|chat|speak|jump|hop|set\s+up|schedule|have|grab|catch\s+up|call)\b|\b(?:jump|hop)\s+on\s+a\s+(?:quick\s+|short\s+)?(?:call|chat)\b|\bany\s+chance\s+(?:you|we)\b|\bwe\s+(?:should|need\s+to|have\s+to|must)\s+(?:\w+\s+)?(?:get|grab|meet|catch\s+up|have|do)\b|\bif\s+you\s+fancy\b", 0.4, SUGGESTS, "en"),
    Phrase(r"\b(?:i'd|i\s+would|we'd|we\s+would)\s+(?:love|like|be\s+keen)\s+to\s+(?:meet|chat|talk|speak|catch\s+up|connect|grab|set\s+up|schedule|buy\s+you|take\s+you|invite\s+you)\b", 0.4, SUGGESTS, "en"),
    Phrase(r"\b(?:would|'d)\s+love\s+to\s+(?:meet|chat|talk|speak)\s+(?:to|with)\s+you\b|\bwould\s+be\s+(?:great|lovely|nice|good)\s+to\s+(?:catch\s+up|meet|talk|chat|connect)\b|(?<!always )\bhappy\s+to\s+(?:chat|talk|meet)\b", 0.4, SUGGESTS, "en"),
    Phrase(r"\bpourrions-nous\b|\bpourrait-on\b|\best-ce\s+qu'on\s+pourrait\b|\bon\s+pourrait\s+(?:se\s+voir|se\s+retrouver|en\s+parler|prendre|déjeuner|s'appeler)\b|\bprenons\s+(?:un|une|rendez-vous)\b|\bon\s+se\s+(?:fait|voit|cale|retrouve|appelle)\b|\bqu'on\s+se\s+(?:voie|voit|retrouve|parle|appelle)\b|\bpourrais-je\s+(?:solliciter|vous\s+(?:appeler|rencontrer|voir|parler)|te\s+(?:appeler|voir|parler))\b", 0.4, SUGGESTS, "fr"),
    Phrase(r"\bje\s+(?:vous\s+|te\s+)?propose\s+(?:un|une|de|qu)|\bje\s+serais\s+ravie?\s+d[e']|\bserait-il\s+possible\s+de\s+(?:vous|te|se|nous)\s+(?:rencontrer|voir|appeler|parler)\b", 0.4, SUGGESTS, "fr"),
    Phrase(r"\b(?:j'aimerais|aimerait|aimerions)\s+(?:beaucoup\s+|bien\s+)?(?:vous\s+|te\s+)?(?:rencontrer|parler|appeler|voir|inviter|échanger|discuter|en\s+parler)\b|\baccepteriez-vous\b|\baccepterais-tu\b|\b(?:tu\s+accepterais|vous\s+accepteriez)\b", 0.4, SUGGESTS, "fr"),
    Phrase(r"\b(?:könnten|können|sollen|wollen)\s+wir\s+(?:uns|das|mal|gern|gerne|einmal|kurz|telefonieren|sprechen|reden)\b|\blass(?:t)?\s+uns\b|\bmagst\s+du\b|\bmögen\s+sie\b|\b(?:dürfte|darf|könnte)\s+ich\s+(?:sie|dich)\s+(?:um\s+ein|zu\s+einem|anrufen|treffen|einladen)\b|\blassen\s+sie\s+uns\b|\bschlage\s+(?:ich\s+)?vor\b|\bwie\s+wäre\s+es\s+mit\b|\bwäre\s+es\s+möglich\b", 0.4, SUGGESTS, "de"),
    Phrase(rf"\b(?:würde|möchte)\b{LONG_GAP}\b(?:treffen|austauschen|sprechen|unterhalten|einladen|kennenlernen|telefonieren)\b|\b(?:hast\s+du|hättest\s+du|hätten\s+sie|haben\s+sie)\s+lust\b|\bpasst\s+es\s+(?:dir|ihnen|euch)\b|\b(?:würde|möchte)\s+(?:dich|sie|euch)\s+(?:\w+\s+){{0,2}}gerne?\b", 0.4, SUGGESTS, "de"),
    Phrase(r"\bpodríamos\b|\bpodemos\s+(?:quedar|hablar|vernos|reunirnos|tomar)\b|\bqued(?:amos|emos)\b|\btomemos\b|\bqué\s+te\s+parece\s+si\b|\b(?:te|le)\s+propongo\b|\bte\s+invito\s+a\b|¿\s*nos\s+vemos\b", 0.4, SUGGESTS, "es"),
    Phrase(r"\b(?:me|le)\s+(?:encantaría|gustaría)\s+(?:mucho\s+)?(?:charlar|hablar|conocerte|verte|quedar|tomar|invitarte|comentarte)\b|\bencantad[oa]s?\s+de\s+(?:hablar|charlar|conocerte|verte)\b|\b(?:te|le)\s+apetece\b|\bte\s+animas\b", 0.4, SUGGESTS, "es"),
    Phrase(r"\b(?:habláramos|charláramos|quedáramos|nos\s+viéramos)\b", 0.4, SUGGESTS, "es"),
    # a question whose sentence names a way to meet: "are you free for a call?" ("?" in a link is no question)
    Phrase(rf"\b(?:coffee|lunch|drinks?|call|chat|meet|meeting|catch\s+up|talk|speak|phone|video|zoom|interview|minutes|half\s+an\s+hour){QUESTION_END}", 0.3, QUESTION, "en"),
    Phrase(rf"\b(?:café|verre|déjeuner|appel|appeler|visio|échanger|échange|discuter|rencontrer|voir|entretien|téléphon\w{{0,10}}|minutes|demi-heure|quart\s+d'heure|créneau|rendez-vous){QUESTION_END}", 0.3, QUESTION, "fr"),
    Phrase(rf"\b(?:kaffee|\w{{0,12}}bier|mittagessen|essen|telefonat|telefonieren|anruf|call|gespräch|treffen|austauschen|sprechen|interview|minuten|stunde|termin|zoom|video){QUESTION_END}", 0.3, QUESTION, "de"),
    Phrase(rf"\b(?:café|comer|tomar\s+algo|llamada|videollamada|hablar|charlar|quedar|vernos|reunirnos|reunión|entrevista|minutos|media\s+hora|un\s+rato|hueco){QUESTION_END}", 0.3, QUESTION, "es"),
    # availability asked, politely: weak alone ("would you be free to join our webinar?")
    Phrase(r"\b(?:would\s+you|you'd)\s+be\s+(?:free|available|open|around|willing|up\s+for|interested)\b|\bare\s+you\s+(?:free|around|open\s+to|up\s+for)\b|\bwould\s+you\s+mind\b", 0.25, FREE, "en"),
    Phrase(r"\b(?:seriez-vous|serais-tu|vous\s+seriez|tu\s+serais)\s+(?:libre|disponible|dispo|d'accord|partante?)\b|\b(?:ça\s+te|cela\s+vous)\s+dérangerait\b", 0.25, FREE, "fr"),
    Phrase(rf"\b(?:wären\s+sie|wärst\s+du)\b{GAP}\b(?:frei|verfügbar|offen|bereit)\b", 0.25, FREE, "de"),
    Phrase(r"\b(?:estarías|estaría\s+usted)\s+(?:libre|disponible)\b|\b(?:te|le)\s+(?:viene|vendría|va|iría)\s+bien\b|\b(?:te|le)\s+importaría\b", 0.25, FREE, "es"),
    # the writer fits the reader's calendar: "happy to work around your schedule"
    Phrase(rf"\bwhatever\s+suits\s+you\b|\bwork\s+around\s+your\s+(?:calendar|schedule)\b|\bi(?:'m|\s+am)\s+(?:free|available|flexible|around)\b|\bat\s+your\s+convenience\b|\bat\s+(?:a|any)\s+time\s+(?:of\s+your\s+choosing|that\s+suits\s+you|convenient\s+for\s+you)\b|\bwhenever\s+(?:suits|works\s+for)\s+you\b|\blet\s+me\s+know\s+(?:if|when|what|which)\b{GAP}\b(?:works?|suits?)\b", 0.2, FLEXIBLE, "en"),
    Phrase(r"\b(?:quand|ce\s+qui|comme)\s+(?:cela\s+|ça\s+)?(?:vous|t')\s*arrange|\b(?:à|selon|sur)\s+(?:vos|tes)\s+disponibilités\b|\bje\s+m'adapte(?:rai)?\b|\bqui\s+(?:vous|te)\s+(?:conviendra|convient|arrange(?:ra)?)\b|\bme\s+convien(?:drai(?:en)?t|t|nent)\b|\bje\s+suis\s+(?:assez\s+|très\s+)?(?:flexible|disponible|libre)\b", 0.2, FLEXIBLE, "fr"),
    Phrase(r"\b(?:wie|wann|wo)\s+es\s+(?:ihnen|dir)\s+(?:am\s+besten\s+)?passt\b|\bich\s+richte\s+mich\s+(?:ganz\s+)?nach\s+(?:ihnen|dir)\b|\bich\s+bin\s+(?:zeitlich\s+)?flexibel\b|\b(?:zeitpunkt|termin|ort)\s+(?:ihrer|deiner)\s+wahl\b", 0.2, FLEXIBLE, "de"),
    Phrase(r"\bme\s+adapto\b|\bpuedo\s+adaptarme\b|\bdonde\s+tú\s+digas\b|\bcuando\s+(?:te|le)\s+venga\s+(?:bien|mejor)\b|\bcuando\s+mejor\s+(?:te|le)\s+venga\b", 0.2, FLEXIBLE, "es"),
    Phrase(r"\b(?:grab|get|have|buy\s+you|over|for|virtual|quick)\s+(?:a\s+)?(?:coffee|lunch|breakfast|drink|beer)\b|\bcoffee\s+(?:chat|meeting|break)\b", 0.25, COFFEE, "en"),
    Phrase(r"\b(?:prendre|boire)\s+un\s+(?:café|verre|thé|pot)\b|\bun\s+(?:café|déjeuner)\b|\bdéjeuner\s+ensemble\b|\bautour\s+d'un\s+(?:café|verre|déjeuner)\b", 0.25, COFFEE, "fr"),
    Phrase(r"\b(?:auf|zu[mr]?)\s+(?:einen\s+|ein\s+|einem\s+)?\w{0,15}(?:kaffee|mittagessen|essen|bier|getränk)\b|\bkaffee\s+trinken\b", 0.25, COFFEE, "de"),
    Phrase(r"\b(?:un|tomar\s+un)\s+café\b|\btomar\s+algo\b|\bcomer\s+juntos\b|\buna\s+cerveza\b", 0.25, COFFEE, "es"),
    Phrase(r"\b(?:chat|call|talk|meet(?:ing)?|connect|catch[- ]up|conversation|video\s+call|phone|interview)\b", 0.1, FORM, "en"),
    Phrase(r"\b(?:appel|échanger|échange|discuter|visio|rencontrer|rendez-vous|entretien|téléphon\w{0,10})\b", 0.1, FORM, "fr"),
    Phrase(r"\b(?:gespräch|telefon(?:at|isch|ieren)?|anrufen|call|video(?:call)?|zoom|interview|treffen|austauschen|besprechen|termin|sprechen|unterhalten)\b", 0.1, FORM, "de"),
    Phrase(r"\b(?:llamada|videollamada|charla|charlar|hablar|reunión|reunirnos|vernos|conversación|teléfono|entrevista)\b", 0.1, FORM, "es"),
    # 45 or 60 minutes is a webinar's length, not a favour's
    Phrase(r"\b(?:10|15|20|25|30)[ -]?min(?:ute[ns]?|utos?|s)?\b|\b(?:ten|fifteen|twenty|thirty)\s+minutes\b|\bhalf\s+an\s+hour\b|\bhalf-hour\b|\bquarter\s+of\s+an\s+hour\b", 0.2, DURATION, "en"),
    Phrase(r"\bdemi-heure\b|\bquart\s+d'heure\b|\b(?:dizaine|quinzaine|vingtaine|trentaine)\s+de\s+minutes\b|\b(?:dix|quinze|vingt|trente)\s+minutes\b", 0.2, DURATION, "fr"),
    Phrase(r"\bhalbe\s+stunde\b|\bviertelstunde\b|\b(?:zehn|fünfzehn|zwanzig|dreißig)\s+minuten\b", 0.2, DURATION, "de"),
    Phrase(r"\bmedia\s+hora\b|\bcuarto\s+de\s+hora\b|\b(?:diez|quince|veinte|treinta)\s+minutos\b", 0.2, DURATION, "es"),
    Phrase(r"\b(?:quick|short|brief)\s+(?:call|chat|catch-up|video\s+call|phone\s+call|coffee|meeting)\b", 0.2, SHORT, "en"),
    Phrase(r"\b(?:petit|court|bref)\s+(?:appel|échange|café|entretien)\b|\b(?:petite|courte|brève)\s+(?:visio|discussion|conversation|rencontre)\b", 0.2, SHORT, "fr"),
    Phrase(r"\bkurze[nrms]?\s+(?:call|telefonat|gespräch|austausch|termin|treffen|anruf|videocall)\b", 0.2, SHORT, "de"),
    Phrase(r"\b(?:llamada|charla|café|videollamada|reunión)\s+(?:rápid[oa]|breve|cort[oa])\b|\bbreve\s+(?:llamada|charla|conversación|reunión)\b", 0.2, SHORT, "es"),
    # relative days are a signal only: proposed times are never guessed from them (when.py)
    Phrase(rf"\b(?:next|this|coming)\s+(?:week|month|{EN_DAYS})\b|\btomorrow\b|\bsometime\b|\bin\s+the\s+(?:next|coming)\s+(?:few\s+|couple\s+of\s+|two\s+|three\s+)?(?:days|weeks)\b|\bbefore\s+the\s+end\s+of\s+the\s+(?:month|week)\b", 0.15, DAY, "en"),
    Phrase(rf"\bany\s+day\b|\bon\s+{EN_DAYS}\b|\b{EN_DAYS}\s+or\s+{EN_DAYS}\b|\bmost\s+(?:mornings|afternoons|evenings|days)\b", 0.15, DAY, "en"),
    Phrase(r"\bla\s+semaine\s+prochaine\b|\b(?:après-)?demain\b|\bdans\s+les\s+(?:semaines|jours)\s+(?:à\s+venir|qui\s+viennent)|\bdans\s+les\s+(?:prochains\s+jours|prochaines\s+semaines|quinze\s+jours)\b|\bcette\s+semaine\b", 0.15, DAY, "fr"),
    Phrase(rf"\b{FR_DAYS}\s+prochain\b|\blors\s+de\s+(?:votre|ton)\s+prochain|\ben\s+fin\s+de\s+journée\b|\b{FR_DAYS}\s+ou\s+{FR_DAYS}\b|\ble\s+mois\s+prochain\b", 0.15, DAY, "fr"),
    Phrase(rf"\b(?:nächste|kommende)[nr]?\s+(?:woche|monat)\b|\b(?<!guten )morgen\b|\bübermorgen\b|\bin\s+den\s+(?:nächsten|kommenden)\s+(?:zwei\s+|drei\s+|paar\s+)?(?:tagen|wochen)\b|\birgendwann\b|\bdiese\s+woche\b|\bam\s+{DE_DAYS}\b|\b{DE_DAYS}\s+oder\s+{DE_DAYS}\b", 0.15, DAY, "de"),
    Phrase(rf"\bla\s+semana\s+que\s+viene\b|\bla\s+próxima\s+semana\b|\b(?<!la )mañana\b|\ben\s+las\s+próximas\s+semanas\b|\besta\s+semana\b|\bel\s+{ES_DAYS}\b|\bun\s+día\b|\bel\s+mes\s+que\s+viene\b", 0.15, DAY, "es"),
    Phrase(r"\b(?:career|advice|mentor\w{0,6}|insights?|guidance|breaking\s+into|transition(?:ing)?\s+(?:into|to)|learn\s+(?:more\s+)?(?:about|from)|hiring\s+question)\b", 0.15, REASON, "en"),
    Phrase(r"\b(?:your\s+(?:take|perspective|experience|path|journey|work|role|team|piece|article|talk)|how\s+you\s+(?:got|moved|made|built|became|went|did|run|organi[sz]e))\b", 0.15, REASON, "en"),
    Phrase(r"\b(?:(?:votre|ton)\s+(?:avis|regard|parcours|expérience|métier|retour)|conseils?|reconversion|carrière|transition|passage\s+au|comment\s+(?:tu\s+as|vous\s+avez))\b", 0.15, REASON, "fr"),
    Phrase(r"\b(?:rat|tipps|erfahrung(?:en)?|berufseinstieg|wechsel|karriere\w{0,12}|quereinstieg|einschätzung|mentoring|wie\s+(?:sie|du)\s+(?:den|das|die|es))\b", 0.15, REASON, "de"),
    Phrase(r"\b(?:consejos?|(?:tu|su)\s+(?:opinión|experiencia|consejo)|experiencia|carrera|el\s+salto|(?:pasarme|moverme|cambiarme)\s+a|cómo\s+(?:montaste|empezaste|llegaste|hiciste|pasaste|conseguiste|organiz\w{1,6}))\b", 0.15, REASON, "es"),
    Phrase(r"\b(?:introduc(?:ed|tion)|referred|mentioned\s+you|suggested\s+(?:i|that\s+i)\s+(?:reach|contact|talk|get\s+in\s+touch|write)|gave\s+me\s+your|we\s+(?:met|spoke)\b|mutual|alumn[ia]|linkedin|your\s+(?:talk|post|posts|article))", 0.1, CONTEXT, "en"),
    Phrase(r"\bm'a\s+(?:conseillé|recommandé|suggéré|donné|parlé|dit)\b|\bde\s+la\s+part\s+de\b|\bnous\s+nous\s+sommes\s+(?:croisée?s|rencontrée?s)\b|\bon\s+était\s+ensemble\b|\blinkedin\b|\bvotre\s+(?:article|intervention|conférence)\b|\b(?:un|une)\s+(?:ami|amie)\s+commune?\b", 0.1, CONTEXT, "fr"),
    Phrase(r"\bhat\s+mir\s+(?:ihren|deinen)\s+(?:kontakt|namen)\b|\bwir\s+kennen\s+uns\b|\b(?:ihr|ihren|dein|deinen)\s+vortrag\b|\blinkedin\b|\bempfohlen\b", 0.1, CONTEXT, "de"),
    Phrase(r"\bme\s+(?:ha|han)\s+(?:pasado|hablado|dado|recomendado)\b|\bcoincidimos\b|\bnos\s+conocimos\b|\blinkedin\b|\bme\s+dijo\b|\bel\s+amigo\s+de\b|\b(?:vi|leí|escuché)\s+tu\s+(?:charla|artículo|post|publicación)\b", 0.1, CONTEXT, "es"),
    # someone asks for a meeting for someone else: the meeting then needs that person as counterpart
    Phrase(rf"\bmy\s+(?:colleague|co-?worker|teammate|friend|manager|boss|report|engineer|student|intern|mentee|client|sister|brother|son|daughter|cousin)\b{GAP}\b(?:would\s+(?:love|like|appreciate)|wants|hopes|is\s+(?:keen|eager|hoping))\b", 0.35, ON_BEHALF, "en"),
    Phrase(rf"\bone\s+of\s+my\s+(?:engineers|colleagues|team|reports|students|designers|analysts|developers|mentees)\b|\b(?:spend|give|spare){GAP}\bwith\s+(?:him|her|them)\b|\b(?:happy|glad|delighted|pleased)\s+to\s+(?:connect|introduce)\s+you\b|\b(?:i'd|i\s+would)\s+(?:love|like)\s+to\s+introduce\s+you\b|\blet\s+me\s+introduce\b|\bon\s+behalf\s+of\s+(?:my|our)\b", 0.35, ON_BEHALF, "en"),
    Phrase(rf"\b(?:mon|ma)\s+(?:collègue|ami|amie|associée?|stagiaire|fils|fille|sœur|soeur|frère|cousine?|manager|responsable)\b{LONG_GAP}\b(?:aimerait|souhaiterait|voudrait|serait\s+ravie?)\b|\b(?:lui|leur)\s+(?:accorder|consacrer)\b|\bje\s+(?:me\s+permets\s+de\s+)?(?:te|vous)\s+présente(?:r)?\b|\b(?:vous|te)\s+mettre\s+en\s+(?:relation|contact)\b|\bde\s+la\s+part\s+de\s+(?:mon|ma|notre)\b", 0.35, ON_BEHALF, "fr"),
    Phrase(rf"\b(?:mein|meine|meinen)\s+(?:kollegin|kollege|kollegen|freundin|freund|mitarbeiterin|mitarbeiter|praktikantin|praktikant|chefin|chef|tochter|sohn|schwester|bruder)\b{LONG_GAP}\b(?:würde|möchte|will)\b|\bmiteinander\s+bekannt\s+machen\b|\b(?:würde|möchte)\s+sich\s+(?:sehr\s+)?gerne?\s+mit\s+(?:dir|ihnen|euch)\b", 0.35, ON_BEHALF, "de"),
    Phrase(rf"\b(?:mi|mis)\s+(?:compañer[oa]s?|amig[oa]s?|colega|jef[ea]|becari[oa]|herman[oa]|hij[oa]|prim[oa])\b{LONG_GAP}\b(?:estaría\s+encantad[oa]|le\s+encantaría|le\s+gustaría|quiere|querría|quisiera)\b|\b(?:te|le)\s+presento\s+a\b|\bpresentarte\s+a\b|\ble\s+(?:encantaría|gustaría)\s+(?:mucho\s+)?(?:hablar|charlar|conocer(?:te)?)\b|\bponer(?:te|os)\s+en\s+contacto\b|\bde\s+parte\s+de\s+(?:mi|mis|nuestr[oa])\b", 0.35, ON_BEHALF, "es"),
    # -- not a request -------------------------------------------------------------------------
    Phrase(r"\bare\s+you\s+(?:available|free|there|around)\s+(?:to\s+(?:speak|talk|chat)\s+)?(?:now|right\s+now|today)\b|\bcan\s+you\s+(?:talk|speak)\s+now\b|\bcall\s+me\s+(?:now|asap|back)\b", -0.45, NOW, "en"),
    Phrase(r"\b(?:êtes-vous|es-tu|tu\s+es|vous\s+êtes)\s+(?:disponible|dispo|libre)s?\s+(?:en\s+ce\s+moment|maintenant|aujourd'hui|tout\s+de\s+suite)\b", -0.45, NOW, "fr"),
    Phrase(r"\b(?:sind\s+sie|bist\s+du|hast\s+du|haben\s+sie)\s+(?:gerade|jetzt|heute|kurz)\b", -0.45, NOW, "de"),
    Phrase(r"\b(?:estás|está(?:\s+usted)?|tienes)\s+(?:disponible|libre|un\s+momento)\s+(?:ahora|hoy|en\s+este\s+momento)\b", -0.45, NOW, "es"),
    Phrase(r"\b(?:urgent(?:ly)?|asap|immediately(?!\s+thought)|right\s+away|act\s+now|limited\s+time|dringend|sofort|urgente|urgencia|inmediatamente|de\s+toute\s+urgence)\b", -0.3, URGENT, "any"),
    Phrase(r"\b(?:discreet(?:ly)?|confidential|confidentiel(?:le)?|vertraulich|diskret|confidencial|take\s+care\s+of\s+something)\b", -0.4, SECRET, "any"),
    Phrase(r"\b(?:gift\s*cards?|wire\s+transfer|bitcoin|crypto|invoice|payment|bank\s+details|password|verify\s+your|carte\s+cadeau|virement|mot\s+de\s+passe|gutschein|überweisung|passwort|tarjeta\s+regalo|transferencia|contraseña)\b", -0.5, MONEY, "any"),
    Phrase(r"\bour\s+(?:product|platform|solution|services|agency|software|tool|offering)\b(?!\s+(?:team|org|manager|people|lead))|\b(?:demo|free\s+trial|seo)\b|\bbook\s+a\s+(?:demo|call\s+with\s+our)\b|\bnew\s+features\b", -0.35, SALES, "en"),
    Phrase(r"\bnotre\s+(?:nouvelle\s+|nouvel\s+)?(?:offre|solution|plateforme|outil|logiciel)\b|\bdémo\b|\bessai\s+gratuit\b", -0.35, SALES, "fr"),
    Phrase(r"\bunser(?:e|em|en|er)?\s+(?:neue[mns]?\s+)?(?:produkt|lösung|plattform|angebot|software|tool)\b|\bkostenlos\s+testen\b", -0.35, SALES, "de"),
    Phrase(r"\bnuestr[oa]s?\s+(?:nuev[oa]s?\s+)?(?:producto|solución|plataforma|oferta|herramienta|software)\b|\bprueba\s+gratuita\b|\bnovedades\s+de\b", -0.35, SALES, "es"),
    Phrase(r"\bunsubscribe\b|\bview\s+(?:this\s+email\s+)?in\s+(?:your\s+)?browser\b|\bno\s+longer\s+wish\s+to\s+receive\b|\byou(?:'re|\s+are)\s+receiving\s+this\b|\bmanage\s+(?:your\s+)?(?:preferences|settings|alerts|subscription)\b", -0.5, FOOTER, "en"),
    Phrase(r"\bse\s+d[ée]sinscrire\b|\bd[ée]sabonn|\bd[ée]sinscription\b|\bvous\s+recevez\s+(?:cet|cette|ce)\b|\bversion\s+en\s+ligne\b", -0.5, FOOTER, "fr"),
    Phrase(r"\babmelden\b|\babbestellen\b|\bsie\s+erhalten\s+diese\b|\bim\s+browser\s+(?:ansehen|öffnen)\b", -0.5, FOOTER, "de"),
    Phrase(r"\bdar(?:se|te)\s+de\s+baja\b|\brecibes\s+este\s+correo\b|\bver\s+en\s+el\s+navegador\b|\bcancelar\s+(?:la\s+)?suscripción\b", -0.5, FOOTER, "es"),
    # "we met last week": thanks for a coffee or a call that already took place ("thank you for
    # your time" alone closes many requests, so time counts only with a day that is past)
    Phrase(r"\bthanks?\s+(?:you\s+)?(?:again\s+|so\s+much\s+)?for\s+(?:the|our)\s+(?:\w+\s+)?(?:coffee|chat|call|meeting|conversation|lunch|talk)\b|\bthanks?\s+(?:you\s+)?(?:again\s+|so\s+much\s+)?for\s+(?:chatting|meeting|talking)\s+with\s+me\b", -0.4, PAST, "en"),
    Phrase(r"\b(?:great|lovely|nice|good)\s+(?:meeting|seeing|talking\s+to|chatting\s+with)\s+you\b|\b(?:it\s+was|it's\s+been)\s+(?:really\s+|so\s+)?(?:great|lovely|nice|good)\s+to\s+(?:meet|see|talk\s+to|chat\s+with)\s+you\b", -0.4, PAST, "en"),
    Phrase(r"\bmerci\s+(?:encore\s+|beaucoup\s+)?pour\s+(?:le|notre|ce|cet|cette|la)\s+(?:\w+\s+)?(?:café|échange|appel|déjeuner|rencontre|discussion|conversation)\b|\bremercier\s+pour\s+notre\b|\bravie?\s+de\s+(?:t'|vous\s+)?avoir\s+rencontrée?\b|\bc'était\s+(?:vraiment\s+|très\s+)?(?:passionnant|super|génial|un\s+plaisir|top)\b", -0.4, PAST, "fr"),
    Phrase(r"\b(?:danke|dank)\b[^.?!\n]{0,20}\bfür\s+(?:den|das|die|unser|unseren)\s+(?:\w+\s+)?(?:kaffee|gespräch|telefonat|treffen|austausch|mittagessen)\b|\bschön,?\s+(?:dich|sie)\s+kennengelernt\b|\bes\s+war\s+(?:wirklich\s+|sehr\s+|so\s+)?(?:schön|toll|super|klasse)\b", -0.4, PAST, "de"),
    Phrase(r"\bgracias\s+(?:de\s+nuevo\s+|otra\s+vez\s+)?(?:por|de)\s+(?:el|la|nuestra|nuestro)\s+(?:\w+\s+)?(?:café|charla|llamada|videollamada|reunión|conversación|comida)\b|\blo\s+pasamos\b|\bfue\s+(?:un\s+placer|genial)\b", -0.4, PAST, "es"),
    Phrase(rf"\b(?:thanks?|thank\s+you|merci|danke|gracias)\b{GAP}\b(?:yesterday|last\s+(?:week|night|{EN_DAYS})|hier|la\s+semaine\s+dernière|{FR_DAYS}\s+dernier|gestern|letzte\s+woche|ayer|la\s+semana\s+pasada)\b", -0.4, PAST, "any"),
    Phrase(r"\bwebinars?\b|\bsave\s+your\s+seat\b|\bregist(?:er|ration)\b|\brsvp\b|\byou're\s+invited\b|\bseats\s+are\s+limited\b|\bfree\s+entry\b|\bjoin\s+(?:us|our)\s+(?:for|at|free|live)\b|\bsign\s+up\s+here\b|\blive\s+(?:session|stream|q&a)\b", -0.4, EVENT, "en"),
    Phrase(r"\bwebinaires?\b|\binscription\s+(?:obligatoire|gratuite|ici)\b|\binscrivez-vous\b|\b(?:je\s+m'|vous\s+)inscri(?:s|re)\b|\bréserve[rz]?\s+(?:ma|votre)\s+place\b|\bplaces\s+limitées\b|\bentrée\s+libre\b|\bvous\s+invite\s+à\s+(?:sa|notre|la)\s+(?:soirée|conférence)\b", -0.4, EVENT, "fr"),
    Phrase(r"\bwebinars?\b|\banmeld(?:en|ung)\b|\bplätze\s+sind\s+begrenzt\b|\bteilnahme\s+ist\s+kostenlos\b|\beinladung\s+zu[mr]?\b|\bherzliche\s+einladung\b|\bonline-session\b", -0.4, EVENT, "de"),
    Phrase(r"\bwebinar(?:io)?s?\b|\breserva\s+tu\s+plaza\b|\bapúntate\b|\binscríbete\b|\binscripción\b|\baforo\b|\bplazas\s+limitadas\b|\bentrada\s+(?:es\s+)?gratuita\b|\bte\s+invitamos\b|\bpuertas\s+abiertas\b", -0.4, EVENT, "es"),
    Phrase(r"^(?:reminder|notification|rappel|erinnerung|benachrichtigung|recordatorio|notificación)\b|\b(?:organi[sz]er|organisateur|organisator|organizador)\b|\binvitee\s*:|\bpowered\s+by\b|\bguest\s+info|\binformations\s+sur\s+les\s+invités\b|\bgastinformationen\b|\binformación\s+de\s+los\s+invitados\b|\bbesprechung\s+beitreten\b", -0.4, NOTIFICATION, "any"),
    Phrase(r"\breceipt\b|\border\s+(?:#|no\b|number)|\byour\s+order\b|\bpaid\s+with\b|\d[.,]\d\d\s?€|€\s?\d|\$\d", -0.4, RECEIPT, "en"),
    Phrase(r"\bvotre\s+commande\b|\brécapitulatif\b|\bprix\s+total\b|\be-billet\b|\bbon\s+voyage\b", -0.4, RECEIPT, "fr"),
    Phrase(r"\bbuchungsbestätigung\b|\bihre\s+(?:bestellung|buchung)\b|\bzahlungsart\b|\bgute\s+reise\b", -0.4, RECEIPT, "de"),
    Phrase(r"\btu\s+pedido\b|\bsu\s+pedido\b|\biva\s+incl", -0.4, RECEIPT, "es"),
    Phrase(r"\bjob\s+alerts?\b|\bnew\s+jobs\b|\bsee\s+all\s+\d+\s+jobs\b|\bjobs?\s+match\b|\bapply\s+now\b", -0.4, JOBS, "en"),
    Phrase(r"\bnouvelles\s+offres\b|\balertes?\b|\bpostuler\b", -0.4, JOBS, "fr"),
    Phrase(r"\bjob-agent\b|\bneue\s+(?:jobs|stellen)\b|\bstellenangebote\b", -0.4, JOBS, "de"),
    Phrase(r"\bnuevas\s+ofertas\b|\balertas?\s+de\s+empleo\b|\btu\s+alerta\b|\bempleos\b", -0.4, JOBS, "es"),
    Phrase(r"\bout\s+of\s+(?:the\s+)?office\b|\bauto(?:matic)?[- ]?reply\b|\bautomatische\s+antwort\b|\babwesenheit|\bwieder\s+im\s+büro\b|\bréponse\s+automatique\b|\babsente?\s+du\s+bureau\b|\brespuesta\s+automática\b|\bfuera\s+de\s+la\s+oficina\b", -0.5, AUTO, "any"),
)  # fmt: skip
