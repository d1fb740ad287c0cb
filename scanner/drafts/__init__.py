"""Evidence drafts: deterministic, template-built text for one paper, every sentence traceable.

``generate.build_draft`` turns a stored record and its classification into a
:class:`~scanner.drafts.content.DraftContent`; ``wording.check_wording`` flags wording a
curator should look at; ``citation`` and ``badge`` hold the citation formats and the PEM
badge's standard texts. There is no language model: text comes from templates and quotes.
"""
