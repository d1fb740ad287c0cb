# ruff: noqa: E501  (PDF text lines written out at their extracted width)
"""The abstract taken from a full text (``classifiers/fulltext_abstract.py``): JATS
``<abstract>``, and PDF text in the layouts of Elsevier, Frontiers, MDPI, BMC and Nature."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifiers.document import FullText, from_jats, from_plain
from classifiers.fulltext_abstract import abstract_from_fulltext


def abstract(text: str, limit: int = 3000) -> str:
    return abstract_from_fulltext(from_plain(text), limit=limit)


ELSEVIER = """\
Journal of Autoimmunity 90 (2018) 1–10
Contents lists available at ScienceDirect
Review
Myalgic Encephalomyelitis/Chronic Fatigue Syndrome – Evidence for an
autoimmune disease
Franziska Sotzny a, Carmen Scheibenbogen a,⁎
a Charité – Universitätsmedizin Berlin, Institute for Medical Immunology, 13353 Berlin, Germany
Keywords:
Autoimmune
Biomarker
a b s t r a c t
a r t i c l e
i n f o
Article history:
Received 1 January 2018
Accepted 7 January 2018
Available online 7 April 2018
Myalgic Encephalomyelitis/Chronic Fatigue Syndrome (ME/CFS) is a frequent and severe chronic disease drasti-
cally impairing life quality. There is convincing evidence that in a subset of patients ME/CFS has an
autoimmune etiology. Autoantibodies against neurotransmitter receptors have been identiﬁed in ME/CFS
individuals by several groups, and B-cell depletion results in clinical beneﬁts in about half of the pa-
tients. Further efforts are required to delineate the role of autoantibodies in ME/CFS.
© 2018 The Author(s). Published by Elsevier B.V. This is an open access article under the CC BY license
(http://creativecommons.org/licenses/by/4.0/).
1. Introduction
ME/CFS is a chronic disease that was first described decades ago and is still poorly understood.
"""


def test_elsevier_spaced_heading_with_the_article_info_column_and_licence() -> None:
    got = abstract(ELSEVIER)
    assert got.startswith("Myalgic Encephalomyelitis/Chronic Fatigue Syndrome (ME/CFS) is a "
                          "frequent and severe chronic disease drastically impairing")
    assert got.endswith("delineate the role of autoantibodies in ME/CFS.")
    assert "identified in ME/CFS" in got and "clinical benefits" in got      # ligatures
    assert "patients" in got                                                 # hyphenation
    for wrong in ("Article history", "Received", "Charité", "Elsevier", "Biomarker",
                  "first described"):
        assert wrong not in got
    assert "\n" not in got and "  " not in got


FRONTIERS_FRONT = """\
fnins-17-1125208 February 25, 2023 Time: 16:54 # 1
TYPE Original Research
PUBLISHED 02 March 2023
DOI 10.3389/fnins.2023.1125208
OPEN ACCESS
EDITED BY
Pawel Zalewski,
Nicolaus Copernicus University, Poland
REVIEWED BY
Karl Morten,
University of Oxford, United Kingdom
*CORRESPONDENCE
Kiran Thapaliya
k.thapaliya@griffith.edu.au
RECEIVED 16 December 2022
ACCEPTED 17 February 2023
PUBLISHED 02 March 2023
CITATION
Thapaliya K and Barnden L (2023) Brainstem
volume changes in myalgic encephalomyelitis.
Front. Neurosci. 17:1125208.
doi: 10.3389/fnins.2023.1125208
COPYRIGHT
© 2023 Thapaliya and Barnden. This is an
open-access article distributed under the terms
of the Creative Commons Attribution License
(CC BY). No use, distribution or reproduction
is permitted which does not comply with these terms.
Brainstem volume changes in
myalgic encephalomyelitis/chronic
fatigue syndrome and long
COVID patients
Kiran Thapaliya1,2*, Sonya Marshall-Gradisnik1, Markus Barth2,3,
Natalie Eaton-Fitch1 and Leighton Barnden1
1National Centre for Neuroimmunology and Emerging Diseases, Menzies Health Institute Queensland,
Griffith University, Gold Coast, QLD, Australia, 2Centre for Advanced Imaging, The University
of Queensland, Brisbane, QLD, Australia
Myalgic encephalomyelitis/chronic fatigue syndrome (ME/CFS) and long COVID
patients have overlapping neurological, autonomic, pain, and post-exertional
symptoms. We compared volumes of brainstem regions for 10 ME/CFS (CCC or
ICC criteria), 8 long COVID, and 10 healthy control subjects on 3D, T1-weighted
MRI images acquired using an ultra-high ﬁeld strength of 7 Tesla. Group compar-
isons detected signiﬁcantly larger volumes in ME/CFS for pons (p = 0.004).
Our study demonstrated an abnormal brainstem volume in both ME/CFS and
long COVID consistent with the overlapping symptoms.
KEYWORDS
myalgic encephalomyelitis/chronic fatigue syndrome, brainstem, long COVID
Introduction
Myalgic encephalomyelitis/chronic fatigue syndrome (ME/CFS) is a complex illness
that affects multiple body systems.
Frontiers in Neuroscience 01 frontiersin.org
"""


def test_frontiers_front_matter_affiliations_and_no_heading() -> None:
    got = abstract(FRONTIERS_FRONT)
    assert got.startswith("Myalgic encephalomyelitis/chronic fatigue syndrome (ME/CFS) and "
                          "long COVID patients have overlapping")
    assert got.endswith("consistent with the overlapping symptoms.")
    assert "ultra-high field strength" in got and "Group comparisons detected" in got
    for wrong in ("Griffith", "Queensland", "Thapaliya", "Zalewski", "Creative Commons",
                  "OPEN ACCESS", "Time: 16:54", "brainstem, long COVID", "complex illness"):
        assert wrong not in got


FRONTIERS_SPLIT = """\
Frontiers in Medicine
01
frontiersin.org
Plasma cell targeting with the
anti-CD38 antibody daratumumab in
myalgic encephalomyelitis
Øystein Fluge 1,2*, Kari Sørland 1
and Olav Mella 1
1 The Cancer Clinic, Haukeland University Hospital, Bergen, Norway, 2 Department of Clinical
Science, University of Bergen, Bergen, Norway
Background: Myalgic Encephalomyelitis/Chronic Fatigue Syndrome (ME/CFS)
entails low quality of life for patients and massive societal costs.
Methods: We performed a prospective, open-label pilot trial. Ten female
patients were enrolled and received daratumumab injections.
Results: Six patients experienced marked improvement. Relative reduction of
serum IgG levels was 54% in patients with clinical improve-
OPEN ACCESS
EDITED BY
Nuno Sepulveda,
Warsaw University of Technology, Poland
*CORRESPONDENCE
Øystein Fluge
oystein.fluge@helse-bergen.no
CITATION
Fluge Ø, Sørland K and Mella O (2025) Plasma cell targeting.
Front. Med. 12:1607353.
doi: 10.3389/fmed.2025.1607353
COPYRIGHT
© 2025 Fluge, Sørland and Mella. This is an
open-access article distributed under the
terms of the Creative Commons Attribution
License (CC BY). No use, distribution or reproduction
is permitted which does not comply with
these terms.
TYPE Clinical Trial
PUBLISHED 09 July 2025
DOI 10.3389/fmed.2025.1607353

Frontiers in Medicine 02 frontiersin.org
ment, and 40% among four with no benefit.
Conclusion: Subcutaneous daratumumab in 10 ME/CFS patients was well
tolerated.
KEYWORDS
ME/CFS clinical trial, daratumumab, autoantibodies
Introduction
Myalgic encephalomyelitis/chronic fatigue syndrome (ME/CFS) is a disease.
"""


def test_frontiers_structured_abstract_around_the_front_matter_block() -> None:
    got = abstract(FRONTIERS_SPLIT)
    assert got.startswith("Background: Myalgic Encephalomyelitis/Chronic Fatigue Syndrome")
    assert "patients with clinical improvement, and 40% among four" in got   # joined across
    assert got.endswith("Conclusion: Subcutaneous daratumumab in 10 ME/CFS patients was well "
                        "tolerated.")
    for wrong in ("Sepulveda", "CORRESPONDENCE", "Creative Commons", "Haukeland", "TYPE",
                  "frontiersin", "daratumumab, autoantibodies", "is a disease"):
        assert wrong not in got


MDPI = """\
Int. J. Mol. Sci. 2026, 27, 4488 https://doi.org/10.3390/ijms27104488
Article
Comprehensive Immunophenotyping of Monocytes in Chronic Fatigue Syndrome
Steliyan Petrov 1,*, Martina Bozhkova 1,2 and Michael Maes 3
1 Department of Medical Microbiology, Medical University of Plovdiv, 4002 Plovdiv, Bulgaria
2 Research Institute, Medical University of Plovdiv, 4002 Plovdiv, Bulgaria
* Correspondence: steliyan.petrov@mu-plovdiv.bg
Abstract: Myalgic encephalomyelitis/chronic fatigue syndrome (ME/CFS) and long COVID are
complex chronic conditions that often follow infectious triggers. A total of 207 participants
were included. Long COVID was characterized by increased M2-like monocyte polarization. These
Academic Editor: Elisa Oltra
Received: 15 April 2026
Accepted: 15 May 2026
Copyright: © 2026 by the authors.
Licensee MDPI, Basel, Switzerland.
This article is an open access article
distributed under the terms and
conditions of the Creative Commons
Attribution (CC BY) license.
ﬁndings demonstrate that ME/CFS and long COVID are characterized by distinct immune
proﬁles.
Keywords: long COVID; ME/CFS; flow cytometry
1. Introduction
Myalgic encephalomyelitis/chronic fatigue syndrome (ME/CFS) and long COVID are common.
"""


def test_mdpi_run_in_heading_and_the_academic_editor_side_bar() -> None:
    got = abstract(MDPI)
    assert got.startswith("Myalgic encephalomyelitis/chronic fatigue syndrome (ME/CFS) and "
                          "long COVID are complex chronic conditions")
    assert "polarization. These findings demonstrate that ME/CFS" in got
    assert got.endswith("distinct immune profiles.")
    for wrong in ("Academic Editor", "Licensee", "Plovdiv", "Keywords", "flow cytometry",
                  "are common"):
        assert wrong not in got


BMC = """\
RESEARCH
Open Access
Inability of myalgic encephalomyelitis/chronic
fatigue syndrome patients to reproduce VO2peak
Betsy A Keller1*, John Luke Pryor2 and Ludovic Giloteaux3
Abstract
Background: Myalgic Encephalomyelitis/Chronic Fatigue Syndrome (ME/CFS) is a multi-system
illness characterized, in part, by increased fatigue following minimal exertion.
Methods: 22 subjects diagnosed with ME/CFS completed two repeat CPETs separated by 24 h.
Results: ME/CFS patients showed significant decreases from CPET1 to CPET2 in VO2peak.
Conclusion: ME/CFS participants were unable to reproduce most physiological measures.
Keywords: Chronic fatigue syndrome, Functional impairment, Exercise intolerance
* Correspondence: keller@ithaca.edu
1Department of Exercise & Sport Sciences, Ithaca College, Ithaca, NY 14850, USA
Background
Myalgic encephalomyelitis/chronic fatigue syndrome (ME/CFS) is a multi-system illness that can
lead to striking debilitation.
"""


def test_structured_abstract_background_part_is_not_the_background_section() -> None:
    got = abstract(BMC)
    assert got.startswith("Background: Myalgic Encephalomyelitis/Chronic Fatigue Syndrome")
    assert "Methods: 22 subjects" in got and "Results: ME/CFS patients" in got
    assert got.endswith("unable to reproduce most physiological measures.")
    for wrong in ("Keywords", "Ithaca", "striking debilitation", "Keller"):
        assert wrong not in got


STRUCTURED_NO_HEADING = """\
ORIGINAL RESEARCH
published: 05 February 2019
doi: 10.3389/fped.2019.00012
Onset Patterns and Course of
Myalgic Encephalomyelitis/Chronic Fatigue Syndrome
Lily Chu*, Ian J. Valencia and Jose G. Montoya
Stanford ME/CFS Initiative, Division of Infectious Diseases, Stanford University School of Medicine,
Stanford, CA, United States
Background: Epidemiologic studies of myalgic encephalomyelitis/chronic fatigue
syndrome (ME/CFS) have examined different aspects of this disease separately.
Objective: Describe ME/CFS onset and course in one United States-based cohort.
Methods: One hundred and fifty subjects fitting Fukuda 1994 CFS criteria completed a survey.
Conclusions: This paper offers a broad epidemiologic overview of one ME/CFS cohort.
INTRODUCTION
Myalgic encephalomyelitis/chronic fatigue syndrome is a complex, disabling illness.
"""


def test_structured_abstract_without_a_heading_starts_at_its_first_part() -> None:
    got = abstract(STRUCTURED_NO_HEADING)
    assert got.startswith("Background: Epidemiologic studies of myalgic encephalomyelitis/"
                          "chronic fatigue syndrome (ME/CFS) have examined")
    assert got.endswith("a broad epidemiologic overview of one ME/CFS cohort.")
    assert "Stanford" not in got and "disabling illness" not in got


NATURE = """\
Article
https://doi.org/10.1038/s41467-024-45107-3
Deep phenotyping of post-infectious myalgic
encephalomyelitis/chronic fatigue syndrome
A list of authors and their affiliations appears at the end of the paper
Post-infectious myalgic encephalomyelitis/chronic fatigue syndrome (PI-ME/CFS) is a
disabling disorder, yet the clinical phenotype is poorly defined, the pathophysiology is
unknown, and no disease-modifying treatments are available. We used rigorous criteria to
recruit PI-ME/CFS participants with matched controls to conduct deep phenotyping. Immune
profiling suggested chronic antigenic stimulation with increase in naive B-cells.
These abnormalities may guide future intervention.
Myalgic encephalomyelitis/chronic fatigue syndrome (ME/CFS) is the commonly
used term to describe a disorder of persistent and disabling fatigue, exercise
intolerance, malaise, cognitive complaints, and physical symptoms with signiﬁcant
socioeconomic consequences. The physiological mechanism is unknown.
"""


def test_heading_less_abstract_is_the_first_paragraph() -> None:
    got = abstract(NATURE)
    assert got.startswith("Post-infectious myalgic encephalomyelitis/chronic fatigue syndrome")
    assert got.endswith("These abnormalities may guide future intervention.")
    assert "commonly used term" not in got and "affiliations" not in got


def test_limit_empty_documents_and_the_reference_list() -> None:
    got = abstract(BMC, limit=120)
    assert 0 < len(got) <= 120 and got.startswith("Background: Myalgic")
    assert abstract_from_fulltext(FullText("", "plain")) == ""
    assert abstract("  \n\n ") == ""
    refs_only = ("A short title\nReferences\n1. Fukuda K, Straus SE, Hickie I, et al. The chronic "
                 "fatigue syndrome: a comprehensive approach to its definition and study. Ann "
                 "Intern Med 1994;121:953-959.\n2. Carruthers BM, Jain AK. Myalgic "
                 "encephalomyelitis/chronic fatigue syndrome: clinical working case definition, "
                 "diagnostic and treatment protocols. J Chronic Fatigue Syndr 2003;11:7-115.\n")
    assert "Fukuda" not in abstract(refs_only) and "Carruthers" not in abstract(refs_only)


def test_deterministic() -> None:
    assert abstract(FRONTIERS_SPLIT) == abstract(FRONTIERS_SPLIT)


JATS = b"""<?xml version="1.0"?>
<article article-type="research-article"><front><article-meta>
<title-group><article-title>Cost-effectiveness of fatigue self-management</article-title>
</title-group>
<abstract abstract-type="graphical"><p>A picture of the trial.</p></abstract>
<abstract id="Abs1"><sec><title>Background</title><p>Fatigue is a common yet
  difficult to treat condition in primary care.</p></sec><sec><title>Methods</title><p>An
  economic evaluation alongside a randomized study (<italic>n</italic> = 73).</p></sec>
</abstract>
</article-meta></front>
<body><sec sec-type="intro"><title>Background</title><p>Chronic fatigue is characterized by
persistent fatigue <xref ref-type="bibr" rid="R1">1</xref>.</p></sec></body>
<back><ref-list><ref id="R1"><mixed-citation>Fukuda K. Ann Intern Med 1994.</mixed-citation>
</ref></ref-list></back></article>
"""


def test_jats_abstract_kept_without_changing_the_text_or_its_offsets() -> None:
    doc = from_jats(JATS)
    assert doc is not None
    assert doc.abstract == ("Background: Fatigue is a common yet difficult to treat condition "
                            "in primary care. Methods: An economic evaluation alongside a "
                            "randomized study (n = 73).")
    assert abstract_from_fulltext(doc) == doc.abstract
    start = JATS.index(b'<abstract abstract-type')
    bare = from_jats(JATS[:start] + JATS[JATS.index(b"</article-meta>"):])
    assert bare is not None and bare.abstract == ""
    assert (doc.text, doc.sections, doc.citations, doc.body_end) == \
        (bare.text, bare.sections, bare.citations, bare.body_end)
    assert "Fatigue is a common" not in doc.text
    # without an <abstract>, the start of the body stands in
    assert abstract_from_fulltext(bare).startswith("Chronic fatigue is characterized")
    assert from_plain("Abstract\nText.\n").abstract == ""


REAL = {
    # Elsevier, "a b s t r a c t" after the article-info column
    "fulltext/jbkze/2018-sotzny-evidence-autoimmune-disease.txt":
        ("in at least a subset of patients ME/CFS has an autoimmune etiology",
         ("Article history", "Universitätsmedizin", "Contents", "Introduction")),
    # Frontiers: front-matter block, no abstract heading, KEYWORDS
    "fulltext/yannickloth_pdf_text/fnins-17-1125208.txt":
        ("We compared volumes of brainstem regions for 10 ME/CFS",
         ("Griffith University", "EDITED BY", "Creative Commons", "KEYWORDS",
          "affects multiple body systems")),
    # BMC structured abstract, then a "Background" section
    "fulltext/jbkze/2014-keller-inability-reproduce-vo2peak-indicates.txt":
        ("22 subjects diagnosed with ME/CFS completed two repeat CPETs",
         ("Ithaca College", "Correspondence", "can lead to striking debilitation")),
    # MDPI: affiliations, "Abstract", the Academic Editor side bar inside the abstract
    "fulltext/yannickloth_pdf_text/Petrov_2026.txt":
        ("A total of 207 participants were included",
         ("Academic Editor", "Licensee MDPI", "Medical University of Plovdiv", "Keywords")),
}


def test_real_texts(shared_data: Path) -> None:
    base = shared_data / "mecfs_fulltext"
    if not base.is_dir():
        pytest.fail(f"{base} is missing from the shared data")
    for rel, (phrase, absent) in REAL.items():
        got = abstract((base / rel).read_text(encoding="utf-8", errors="replace"))
        assert phrase in got, (rel, got[:300])
        for wrong in absent:
            assert wrong not in got, (rel, wrong)
        assert 400 < len(got) <= 3000, rel
