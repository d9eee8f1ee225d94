"""The name rules' news conventions (`nlp/names.py`): results lines, fixtures and schedules, goal scorers,
names found again (also in capitals headlines and without a company's legal form), acronyms in running
text, nationalities in capitals, places after "in" and "the town of", newspapers named with an article.
Exact spans, alone and through the default suggester under a CoNLL schema."""

import pytest

from annotator.suggestions import gazetteer, nlp
from annotator.suggestions.nlp.names import find_names
from tests.unit.test_name_rules import suggest


def names(text, listed=(), **options):
    return [(text[c.start : c.end], c.label, c.source) for c in find_names(text, listed, **options)]


@pytest.fixture(scope="module")
def default():
    suggester = nlp.build_suggester()
    suggester.ensure_patterns("lists", gazetteer.shipped_patterns)
    return suggester


def test_a_results_line_names_two_teams_and_its_scorers_a_country_stays_the_country(default):
    text = (
        "Lincoln 1 Cambridge 1\n"
        "Nice 1 ( Chaouch 64th ) Guingamp 2 ( Rouxel 10th , Baret 89th ) .\n"
        "Hapoel Haifa 3 Maccabi Tel Aviv 1\n"
        "Germany 2 France 1\n"
        "In Sofia : Levski Sofia ( Bulgaria ) 1 Olimpija ( Slovenia ) 0"
    )
    assert suggest(default, text) == [
        ("Lincoln", "ORG", "rule:team"),
        ("Cambridge", "ORG", "rule:team"),
        ("Nice", "ORG", "rule:team"),
        ("Chaouch", "PER", "rule:person"),
        ("Guingamp", "ORG", "rule:team"),
        ("Rouxel", "PER", "rule:person"),
        ("Baret", "PER", "rule:person"),
        ("Hapoel Haifa", "ORG", "rule:team"),
        ("Maccabi Tel Aviv", "ORG", "rule:team"),
        ("Germany", "LOC", "list:countries"),  # national teams: news annotation labels the country
        ("France", "LOC", "list:countries"),
        ("Sofia", "LOC", "rule:place"),
        ("Levski Sofia", "ORG", "rule:team"),
        ("Bulgaria", "LOC", "list:countries"),
        ("Olimpija", "ORG", "rule:team"),
        ("Slovenia", "LOC", "list:countries"),
    ]


def test_fixtures_and_schedules_name_teams_a_court_case_does_not():
    text = "Playing Saturday: Reading v Stoke, Queen's Park v Forfar, Southend v Swindon.\nRoe v Wade was upheld."
    assert names(text) == [
        ("Reading", "ORG", "rule:team"),
        ("Stoke", "ORG", "rule:team"),
        ("Queen's Park", "ORG", "rule:team"),
        ("Forfar", "ORG", "rule:team"),
        ("Southend", "ORG", "rule:team"),
        ("Swindon", "ORG", "rule:team"),  # without the full stop
    ]
    # US schedules in capitals: the visitors, then the hosts' city.
    assert names("SUNDAY SCHEDULE\nSEATTLE AT BOSTON\nMILWAUKEE AT CLEVELAND") == [
        ("SEATTLE", "ORG", "rule:team"),
        ("BOSTON", "GPE", "rule:place"),
        ("MILWAUKEE", "ORG", "rule:team"),
        ("CLEVELAND", "GPE", "rule:place"),
    ]
    # Players' rows in a statistics table are people, clubs' rows clubs.
    assert names("Batting:\nIjaz Ahmed 3 6 1 344 141 68.80\nBarcelona 4 3 1 0 9 4 10") == [
        ("Ijaz Ahmed", "PERSON", "rule:person"),
        ("Barcelona", "ORG", "rule:team"),
    ]


def test_names_found_again_without_the_legal_form_and_in_a_capitals_headline(default):
    text = (
        "GENCOR SWELLS PROFIT\nJOHANNESBURG 1996-08-22\nGencor Ltd said on Thursday its profit rose. "
        "Gencor shares gained, chairman Brian Gilbertson said."
    )
    assert suggest(default, text) == [
        ("GENCOR", "ORG", "rule:org"),
        ("JOHANNESBURG", "LOC", "list:cities"),
        ("Gencor Ltd", "ORG", "rule:org"),
        ("Gencor", "ORG", "rule:org"),
        ("Brian Gilbertson", "PER", "rule:person"),
    ]
    text = "CRICKET - GOOCH TO PLAY FOR ESSEX\nLONDON 1996-08-22\nGraham Gooch will play another season."
    assert suggest(default, text) == [
        ("GOOCH", "PER", "rule:person"),
        ("LONDON", "LOC", "list:cities"),
        ("Graham Gooch", "PER", "rule:person"),
    ]
    # A name nobody found in lowercase stays unsaid in a headline.
    assert names("CRICKET - GOOCH TO PLAY FOR ESSEX\nLONDON 1996-08-22\nHe will play.") == [
        ("LONDON", "GPE", "rule:place")
    ]


def test_acronyms_in_running_text_are_organisations_units_and_abbreviations_are_not():
    text = (
        "Fighting between the SPLA and the army went on. The PUK said GDP rose, that HK$ 5 million, "
        "500 KV lines and dark northern spring ( DNS ) were fine, and the SPLA agreed."
    )
    assert names(text) == [
        ("PUK", "ORG", "rule:org"),  # after the sentence's first word, "The"
        ("SPLA", "ORG", "rule:org"),
        ("SPLA", "ORG", "rule:org"),
    ]
    # Headlines in capitals are not acronyms.
    assert names("SOCCER - AJAX SIGN STRIKER\nAMSTERDAM 1996-08-22\nThe club said.") == [
        ("AMSTERDAM", "GPE", "rule:place")
    ]


def test_nationalities_in_capitals_and_after_an_age(default):
    text = (
        "SOCCER - SCOTTISH LEAGUE RESULTS\nGLASGOW 1996-08-22\n"
        "The 27-year-old American lost to Dutchman Richard Wisinga."
    )
    assert suggest(default, text) == [
        ("SCOTTISH", "MISC", "list:demonyms"),
        ("GLASGOW", "LOC", "list:cities"),
        ("American", "MISC", "list:demonyms"),  # not a person called American
        ("Dutchman", "MISC", "list:demonyms"),
        ("Richard Wisinga", "PER", "rule:person"),
    ]


def test_places_after_in_and_the_town_of_and_by_their_last_word():
    text = "Rebels shelled the town of Dayana and fighting spread in Ramallah in March, near the Palk Strait."
    assert names(text) == [
        ("Palk Strait", "LOC", "rule:place"),
        ("Dayana", "GPE", "rule:place"),  # after the names found again (none here)
        ("Ramallah", "GPE", "rule:place"),
    ]  # not "March"
    # A place the lists know is theirs to say.
    text = "She moved to a flat in Lisbon."
    lisbon = text.index("Lisbon")
    assert names(text, [nlp.Candidate(lisbon, lisbon + 6, "GPE", "list:cities")]) == []


def test_a_name_opened_by_another_languages_article_is_an_organisation_not_a_person():
    assert names("He told La Jornada and Die Welt that Jean Le Pen had left.") == [
        ("Jean Le Pen", "PERSON", "rule:person"),
        ("La Jornada", "ORG", "rule:org"),
        ("Die Welt", "ORG", "rule:org"),
    ]
    assert names("He told La Jornada.", guesses=False) == []  # a guess from the shape of a name


def test_a_firm_newspaper_or_club_named_after_what_it_is():
    text = "Engineering concern Stork rose, the daily Gazeta Shqiptare said, and British insurer Prudential fell."
    assert names(text, guesses=False) == [
        ("Stork", "ORG", "rule:org"),
        ("Gazeta Shqiptare", "ORG", "rule:org"),
        ("Prudential", "ORG", "rule:org"),
    ]


def test_a_name_in_brackets_after_a_players_is_their_club_unless_it_is_a_place(default):
    text = "Squad: Vladimir Smicer ( Lens ), Jacek Berensztain ( GKS Belchatow ), Alen Boksic ( Croatia )."
    assert suggest(default, text) == [
        ("Vladimir Smicer", "PER", "rule:person"),
        ("Lens", "ORG", "rule:team"),
        ("Jacek Berensztain", "PER", "rule:person"),
        ("GKS Belchatow", "ORG", "rule:team"),  # not a person by the shape of its name
        ("Alen Boksic", "PER", "rule:name-shape"),
        ("Croatia", "LOC", "list:countries"),
    ]


def test_events_in_a_capitals_headline_and_nationalities_side_by_side(default):
    text = (
        "TENNIS - RESULTS AT CANADIAN OPEN\nMOTOR RACING - SCHUMACHER WINS BELGIAN GRAND PRIX\n"
        "SQUASH - HONG KONG OPEN RESULTS\nAn Iraqi Kurdish group said the Russian-Chechen deal held."
    )
    assert suggest(default, text) == [
        ("CANADIAN OPEN", "MISC", "rule:event"),
        ("BELGIAN GRAND PRIX", "MISC", "rule:event"),
        ("HONG KONG OPEN", "MISC", "rule:event"),
        ("Iraqi Kurdish", "MISC", "list:demonyms"),  # one group, not two
        ("Russian-Chechen", "MISC", "list:demonyms"),
    ]


def test_a_person_of_a_country_a_club_or_firm_by_its_own_word_and_a_name_given_twice():
    text = (
        "Jannik Sinner of Italy met the Bank of England's chief. Bayern Munich won; Bayern coach Thomas Tuchel "
        "smiled.\nFinal:\nJannik Sinner beat Zverev."
    )
    italy, munich = text.index("Italy"), text.index("Munich")
    listed = [
        nlp.Candidate(italy, italy + 5, "GPE", "list:countries"),
        nlp.Candidate(munich, munich + 6, "GPE", "list:cities"),
    ]
    assert names(text, listed) == [
        ("Bank of England", "ORG", "rule:org"),  # an organisation's word before "of": not cut
        ("Bayern Munich", "ORG", "rule:club-shape"),
        ("Thomas Tuchel", "PERSON", "rule:person"),  # not "chief. Bayern Munich": a sentence ended
        ("Bayern", "ORG", "rule:club-shape"),  # the club's own word, alone
        ("Jannik Sinner", "PERSON", "rule:name-shape"),  # "of Italy" is the list's
        ("Jannik Sinner", "PERSON", "rule:name-shape"),  # twice: not "Final Sinner" cut to "Sinner"
    ]


def test_an_organisations_name_without_what_opens_its_sentence_and_its_own_word_alone():
    text = (
        "Chipmaker Qualtek Inc rose. Results of English Premier League matches followed. "
        "Vestas Wind Systems gained and shares of Vestas rose."
    )
    assert names(text) == [
        ("Qualtek Inc", "ORG", "rule:org"),
        ("English Premier League", "ORG", "rule:org"),
        ("Vestas Wind Systems", "ORG", "rule:org"),
        ("Vestas", "ORG", "rule:org"),
    ]


def test_a_team_after_a_drivers_country_and_a_cricket_innings(default):
    text = (
        "1. Michael Schumacher ( Germany ) Ferrari 1:28.15\n2. Olivier Panis ( France ) Ligier\n"
        "At Cardiff : Glamorgan 259 ( P. Cottey 81 ; M. Saggers 6-65 )\nLancashire 162-4"
    )
    assert suggest(default, text) == [
        ("Michael Schumacher", "PER", "rule:person"),
        ("Germany", "LOC", "list:countries"),
        ("Ferrari", "ORG", "rule:team"),
        ("Olivier Panis", "PER", "rule:person"),
        ("France", "LOC", "list:countries"),
        ("Ligier", "ORG", "rule:team"),
        ("Glamorgan", "ORG", "rule:team"),  # "At Cardiff": "at" names places and clubs alike
        ("P. Cottey", "PER", "rule:person"),
        ("M. Saggers", "PER", "rule:person"),
        ("Lancashire", "ORG", "rule:team"),
    ]


def test_a_cricket_scorecards_players_a_role_before_a_name_and_a_person_not_taken_for_a_place():
    text = "Mushtaq Ahmed c Crawley b Mullally 2\nBowling : Croft 29-6-64-1 , Cork 14.3-4-45-1"
    assert names(text) == [
        ("Crawley", "PERSON", "rule:person"),
        ("Mullally", "PERSON", "rule:person"),
        ("Croft", "PERSON", "rule:person"),
        ("Cork", "PERSON", "rule:person"),
        ("Mushtaq Ahmed", "PERSON", "rule:person"),  # the given name Mushtaq
    ]
    assert names("Trainer Berti Vogts and reliever Mark Acre left.") == [
        ("Berti Vogts", "PERSON", "rule:person"),
        ("Mark Acre", "PERSON", "rule:person"),
    ]
    text = "Manager Davey Johnson fell ill. The coach will manage in Johnson's absence, in Ramallah."
    assert names(text) == [
        ("Davey Johnson", "PERSON", "rule:person"),
        ("Johnson", "PERSON", "rule:person"),  # not a place called Johnson
        ("Ramallah", "GPE", "rule:place"),
    ]


def test_a_city_that_is_a_club_in_a_results_line_is_the_club_again_in_the_report_but_not_after_in(default):
    text = "Barcelona 2 Sevilla 1\nBarcelona beat Sevilla in Barcelona on Sunday.\nSEATTLE AT BOSTON\nSeattle lost."
    assert suggest(default, text) == [
        ("Barcelona", "ORG", "rule:team"),
        ("Sevilla", "ORG", "rule:team"),
        ("Barcelona", "ORG", "rule:team"),
        ("Sevilla", "ORG", "rule:team"),
        ("Barcelona", "LOC", "list:cities"),
        ("SEATTLE", "ORG", "rule:team"),
        ("BOSTON", "LOC", "list:cities"),
        ("Seattle", "ORG", "rule:team"),
    ]


def test_an_airport_a_states_abbreviation_and_groups_by_their_creed(default):
    text = (
        "VENTURA , Calif. 1996-08-28\n"
        "The plane landed at Stansted airport, Maoist rebels and Roman Catholic priests said."
    )
    assert suggest(default, text) == [
        ("VENTURA", "LOC", "rule:place"),
        ("Calif.", "LOC", "list:regions"),
        ("Stansted", "LOC", "rule:place"),
        ("Maoist", "MISC", "list:demonyms"),
        ("Roman Catholic", "MISC", "list:demonyms"),
    ]


def test_an_institution_named_by_one_word():
    assert names(
        "The Senate voted and the Commission said the Treasury agreed; the senate is lowercase."
    ) == [
        ("Senate", "ORG", "rule:org"),
        ("Commission", "ORG", "rule:org"),
        ("Treasury", "ORG", "rule:org"),
    ]


def test_a_tables_labels_are_not_people():
    assert names("Figures in 000s :\nNet Income 9,167,000 11,175,000\nSale Amount : 6,310,000") == []


def test_a_surname_known_after_an_unknown_given_name_is_the_whole_name_not_the_surname():
    assert names("The 23-year-old Freeman won.\nResults: Cathy Freeman first. Later Freeman smiled.") == [
        ("Freeman", "PERSON", "rule:person"),
        ("Freeman", "PERSON", "rule:person"),  # "Later": a sentence's opener, not a given name
        ("Cathy Freeman", "PERSON", "rule:name-shape"),
    ]


def test_a_name_opened_by_a_places_word_is_a_place_not_a_person():
    assert names("A gunman on the North Shore was caught at Old Trafford by Mark Acre.") == [
        ("Mark Acre", "PERSON", "rule:person"),
        ("North Shore", "LOC", "rule:place"),  # guesses, made after the clear rules
        ("Old Trafford", "LOC", "rule:place"),
    ]
