"""KB files as the tests write them: Wikidata dump lines, JSONL and CSV."""

import json


def wikidata_entity(qid, labels, *, descriptions=None, aliases=None, p31=(), sitelinks=0, **extra):
    """One entity as the `latest-all.json` dumps write it."""

    def claim(class_id, rank="normal"):
        return {
            "mainsnak": {
                "snaktype": "value",
                "property": "P31",
                "datavalue": {
                    "value": {"entity-type": "item", "numeric-id": int(class_id[1:]), "id": class_id},
                    "type": "wikibase-entityid",
                },
                "datatype": "wikibase-item",
            },
            "type": "statement",
            "id": f"{qid}$0",
            "rank": rank,
        }

    return {
        "type": "item",
        "id": qid,
        "labels": {lang: {"language": lang, "value": value} for lang, value in labels.items()},
        "descriptions": {lang: {"language": lang, "value": v} for lang, v in (descriptions or {}).items()},
        "aliases": {
            lang: [{"language": lang, "value": v} for v in values] for lang, values in (aliases or {}).items()
        },
        "claims": {
            "P31": [claim(c) if isinstance(c, str) else claim(*c) for c in p31],
            "P27": [],
        },
        "sitelinks": {f"site{i}wiki": {"site": f"site{i}wiki", "title": "x"} for i in range(sitelinks)},
        **extra,
    }


def dump(*entities):
    """The dump's layout: `[`, one entity per line followed by a comma (but the last), `]`."""
    lines = [json.dumps(e, ensure_ascii=False) for e in entities]
    return ("[\n" + ",\n".join(lines) + "\n]\n").encode("utf-8")


def jsonl(*items):
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items).encode("utf-8")


def kb_entities(knowledge_base):
    """Every entity of the KB with its aliases, as plain values: to compare what an import wrote."""
    from annotator.kb.models import KBEntity

    return {
        entity.kb_id: (
            entity.name,
            entity.description,
            entity.type,
            entity.prior,
            tuple(entity.instance_of),
            entity.metadata,
            sorted((a.text, a.language, a.normalized, a.manual) for a in entity.aliases.all()),
        )
        for entity in KBEntity.objects.filter(knowledge_base=knowledge_base).prefetch_related("aliases")
    }
