"""Every claim of the MCE paper that this chapter tests, declared once (judged by :mod:`mmlib.claims`).

Imported by the chapter's notebooks and by the book's claims ledger: it imports only :mod:`mmlib.claims` and does no
work at import. Margins are declared here, with their reasons, before the 5- and 10-replicate runs (the chapter's
earlier 3-seed numbers had been seen). Method names are those of the notebooks' tidy tables (``mce``, ``concat``, ``dropout``; ``row a`` ... ``row m`` for Table 2's rows).
"""
from __future__ import annotations

from mmlib.claims import Claim, PaperEffect

PAPER = "MCE"

# Tables 3-5: of the paper's comparators only MMIN (Table 5's "baseline (MMIN)") is implemented here
# (mmlib.methods.mmin); UniMF, MBT-Sample, RedCore, PMR, ShaSpec and PASSION are not (issue 17). The claims below
# against the book's own baselines, the concatenation backbone MCE is built on (`concat`) and modality dropout
# (`dropout`), both required (Holm), show the paper's effect against the strongest of its own comparators per
# ordering beside ours for scale only. The claims against MMIN pair our MCE - MMIN with the paper's own MCE - MMIN
# (Table 5, IEMOCAP), read from book/paper_results/mce_tables_3_5.csv.
OUR_BASELINES = ("concat", "dropout")
NOT_THE_PAPERS = ("against our baselines concat and dropout only; the paper's comparators ({}) are not "
                  "implemented here (issue 17), so its claim over the state of the art is not tested")
#: MMIN's two forms as the main tables label them (grid.MMIN_FORMS)
MMIN_CODE, MMIN_PAPER = "mmin (MCE code)", "mmin"
TABLE5_MMIN = PaperEffect("mce_tables_3_5.csv", "MCE", "baseline (MMIN)", where={"table": "Table 5"})
TABLE5_COMPARATORS = ("baseline (MMIN)", "UniMF", "MBT-Sample", "RedCore")
TABLE3_COMPARATORS = ("PMR", "MBT-Sample", "ShaSpec", "RedCore")
TABLE4_COMPARATORS = ("baseline", "PMR", "MBT-Sample", "PASSION")

MAIN = "mce/01_main_tables.ipynb"
ABLATION = "mce/02_ablation.ipynb"
SHAPLEY = "mce/03_shapley_cost.ipynb"
REPRESENTATIONS = "mce/04_representations.ipynb"
WEIGHTS = "mce/05_weights_dynamics.ipynb"

MAIN_CLAIMS = [
    Claim(id="mce.table5_mosi", paper=PAPER, section="Sec. 4.4, Table 5",
          sentence="MCE consistently outperforms state-of-the-art baselines ... outperforming other approaches in "
                   "nearly all comparisons (IEMOCAP, six orderings of imbalanced missing rates).",
          evidence="Table 5: accuracy averaged over the 7 test subsets, orderings a-f, 10 runs, against MMIN, "
                   "UniMF, MBT-Sample and RedCore.",
          method="mce", comparator=OUR_BASELINES, metric="accuracy", datasets=("mosi",),
          paper_effect=PaperEffect("mce_tables_3_5.csv", "MCE", TABLE5_COMPARATORS, where={"table": "Table 5"}),
          notebook=MAIN, note="MOSI stands in for IEMOCAP; orderings a, d, e at quick (a Latin square of the "
                              "rates); the claim against MMIN is mce.table5_vs_mmin_code; "
                              + NOT_THE_PAPERS.format(", ".join(TABLE5_COMPARATORS))),
    # the paper's own comparison: MCE against the MMIN its authors ran (grid.MMIN_FORMS), per ordering, the paper's
    # effect its Table 5's MCE - baseline (MMIN) averaged over the orderings
    Claim(id="mce.table5_vs_mmin_code", paper=PAPER, section="Sec. 4.4, Table 5",
          sentence="MCE consistently outperforms state-of-the-art baselines ... (IEMOCAP, six orderings of "
                   "imbalanced missing rates; its baseline and base backbone is MMIN).",
          evidence="Table 5: accuracy averaged over the 7 test subsets, orderings a-f, 10 runs: MCE against "
                   "'baseline (MMIN)', the MMIN the MCE authors ran.",
          method="mce", comparator=MMIN_CODE, metric="accuracy", datasets=("mosi",), paper_effect=TABLE5_MMIN,
          notebook=MAIN,
          note="MOSI stands in for IEMOCAP (orderings a, d, e at quick, all six at paper); MMIN as the MCE "
               "authors' code trains it (mmlib.methods.mmin.MCE_CODE: no teacher, no forward imagination loss, "
               "the data's own missing pattern), under the chapter's one budget (lr 1e-3, not MMIN's 2e-4)"),
    Claim(id="mce.table5_vs_mmin", paper=PAPER, section="Sec. 4.4, Table 5",
          sentence="MCE consistently outperforms state-of-the-art baselines ... (IEMOCAP; MMIN trained as its own "
                   "paper trains it).",
          evidence="Table 5: MCE against 'baseline (MMIN)' (the MCE authors' run of MMIN, the only MMIN numbers "
                   "the paper gives).",
          method="mce", comparator=MMIN_PAPER, metric="accuracy", datasets=("mosi",), paper_effect=TABLE5_MMIN,
          notebook=MAIN,
          note="MMIN with its pre-trained teacher, forward and cycle losses and every missing condition "
               "(mmlib.methods.mmin defaults); runs at paper only (the CPU budget of quick); the paper's effect "
               "is against the MCE authors' MMIN, not this one; not one budget: MMIN's encoders start from its "
               "concat teacher, pre-trained for up to the run's epochs first, a training MCE's encoders do not "
               "get (MCE's unimodal models never initialise them)"),
    Claim(id="mce.table3_scene15", paper=PAPER, section="Sec. 4.4, Table 3",
          sentence="The results confirm that MCE consistently outperforms other methods (nuScenes).",
          evidence="Table 3: IoU averaged over the 7 test subsets, orderings a-f, one seed, against PMR, "
                   "MBT-Sample, ShaSpec and RedCore.",
          method="mce", comparator=OUR_BASELINES, metric="accuracy", datasets=("scene15",),
          paper_effect=PaperEffect("mce_tables_3_5.csv", "MCE", TABLE3_COMPARATORS,
                                   where={"table": "Table 3", "metric": "iou"}),
          notebook=MAIN, note="Scene-15 (accuracy) stands in for nuScenes (IoU); ordering a at quick; "
                              + NOT_THE_PAPERS.format(", ".join(TABLE3_COMPARATORS))),
    Claim(id="mce.table4_mfeat", paper=PAPER, section="Sec. 4.4, Table 4",
          sentence="MCE consistently maintains high performance, outperforming other approaches in nearly all "
                   "comparisons (BraTS2020).",
          evidence="Table 4: WT Dice averaged over the 15 test subsets, orderings a-f, 10 runs, against mmFormer, "
                   "PMR, MBT-Sample and PASSION.",
          method="mce", comparator=OUR_BASELINES, metric="accuracy", datasets=("mfeat",),
          paper_effect=PaperEffect("mce_tables_3_5.csv", "MCE", TABLE4_COMPARATORS,
                                   where={"table": "Table 4", "metric": "wt_dice"}),
          notebook=MAIN, note="UCI mfeat (accuracy over 63 subsets) stands in for BraTS2020; it runs at paper only "
                              "(MCE passes over all 63 subsets of 6 views per batch); "
                              + NOT_THE_PAPERS.format(", ".join(TABLE4_COMPARATORS))),
    Claim(id="mce.fig7_avmnist", paper=PAPER, section="Sec. 4.4, Fig. 7",
          sentence="Results across different datasets are summarized in Tab. 3, 4, 5, and Fig. 7 ... MCE consistently "
                   "outperforms other methods (AudiovisionMNIST, all images, audio missing at a rate).",
          evidence="Fig. 7: accuracy (image only; image+audio) at audio missing rates, 10 runs; a figure, no numbers.",
          method="mce", comparator=OUR_BASELINES, metric="accuracy", datasets=("avmnist_mce",),
          notebook=MAIN, note="audio missing at 0.2, 0.5, 0.8 (0.5 only at smoke and quick); scored over image, audio and "
                              "image+audio; " + NOT_THE_PAPERS.format("PMR, MBT-Sample, ShaSpec, UniMF, SMIL, "
                                                                       "RedCore, PASSION")),
    Claim(id="mce.table5_stability", paper=PAPER, section="Sec. 4.4, Table 5",
          sentence="Across 10 independent experimental runs, MCE shows minimal performance fluctuation, indicating "
                   "statistically robust and stable results.",
          evidence="Table 5: standard deviations over 10 runs (MCE 1.0-2.0 points, MMIN up to 9.5).",
          method="mce", comparator="concat", metric="std over seeds", datasets=("mosi",), lower_is_better=True,
          notebook=MAIN, note="a spread over seeds is one number per method, not one per replicate, so the "
                              "engine has no replicates to judge it on; the notebook shows the standard "
                              "deviations beside the paper's"),
]

# Table 2 (MOSI at ordering a for IEMOCAP). Our single all-five run stands for both j and m (the paper's text gives
# them the same check marks and different numbers; its prose calls m the full model), so the paper's effect uses m.
def _table2(method: str, comparator, **where) -> PaperEffect:
    names = {"a": "a. none", "b": "b. single", "c": "c. sub", "d": "d. aux", "e": "e. single+sub",
             "f": "f. single+aux", "g": "g. sub+aux", "h": "h. single+sub+aux", "i": "i. A+single+sub+aux",
             "j": "j. A+B+single+sub+aux", "k": "k. A+B+single", "l": "l. A+B+aux", "m": "m. A+B+single+sub+aux"}
    comparators = tuple(names[c] for c in comparator) if isinstance(comparator, tuple) else names[comparator]
    return PaperEffect("mce_table2.csv", names[method], comparators, where={"dataset": "IEMOCAP", **where})


ABLATION_CLAIMS = [
    Claim(id="mce.table2_progressive", paper=PAPER, section="Sec. 4.3, Table 2",
          sentence="There is a clear, progressive improvement in performance from the baseline (a) to the full "
                   "model (m), confirming the necessity of each proposed component.",
          evidence="Table 2, IEMOCAP at (A, L, V) = (0.2, 0.5, 0.8): row m against row a.",
          method="row m", comparator="row a", metric="accuracy", paper_effect=_table2("m", "a"), notebook=ABLATION,
          note="row a is the backbone with the reconstruction module of Eq. 15 and no MCE loss or factor"),
    Claim(id="mce.table2_rce_vs_single", paper=PAPER, section="Sec. 4.3, Table 2",
          sentence="While using each signal individually leads to some improvement, their combination provides "
                   "significantly better results.",
          evidence="Table 2, IEMOCAP: row h (all three RCE losses) against rows b, c, d (one loss each).",
          method="row h", comparator=("row b", "row c", "row d"), metric="accuracy",
          paper_effect=_table2("h", ("b", "c", "d")), notebook=ABLATION),
    Claim(id="mce.table2_rce_vs_pairs", paper=PAPER, section="Sec. 4.3, Table 2",
          sentence="Their combination provides significantly better results (e.g. +0.86% accuracy on IEMOCAP "
                   "compared to the best dual combination (e)).",
          evidence="Table 2, IEMOCAP: row h against rows e, f, g (two losses each).",
          method="row h", comparator=("row e", "row f", "row g"), metric="accuracy",
          paper_effect=_table2("h", ("e", "f", "g")), notebook=ABLATION,
          note="rows e-g run at paper only (the CPU budget of quick)"),
    Claim(id="mce.table2_lce_on_rce", paper=PAPER, section="Sec. 4.3, Table 2",
          sentence="When both the global factor A (i) and the batch-level factor B (j) are incorporated on top of "
                   "the complete RCE foundation (h), substantial performance improvements are observed.",
          evidence="Table 2, IEMOCAP: row m (A, B and all three losses) against row h (the three losses alone).",
          method="row m", comparator="row h", metric="accuracy", paper_effect=_table2("m", "h"), notebook=ABLATION),
    Claim(id="mce.table2_b_on_a", paper=PAPER, section="Sec. 4.3, Table 2",
          sentence="... and the batch-level factor B (j) ... substantial performance improvements are observed "
                   "(B on top of A and the complete RCE).",
          evidence="Table 2, IEMOCAP: row m against row i (A and the three losses, no B).",
          method="row m", comparator="row i", metric="accuracy", paper_effect=_table2("m", "i"), notebook=ABLATION),
    Claim(id="mce.table2_lce_alone", paper=PAPER, section="Sec. 4.3, Table 2",
          sentence="Configurations (k) and (l), where LCE (A + B) is applied without the complete set of RCE "
                   "supervisions, result in suboptimal performance, significantly underperforming the full model (m).",
          evidence="Table 2, IEMOCAP: row m against rows k and l.",
          method="row m", comparator=("row k", "row l"), metric="accuracy", paper_effect=_table2("m", ("k", "l")),
          notebook=ABLATION),
]

def _table6_masking(id: str, upper: str) -> Claim:
    """Table 6's masking claim, judged on the share of batches with B_m masked; ``upper``: on which data U_m is
    scored."""
    return Claim(id=id, paper=PAPER, section="Sec. 4.5, Table 6",
                 sentence="In IEMOCAP, the B_m values for both L and V modalities are negative (late in training) ... "
                          "their incentive factors are masked to zero.",
                 evidence="Table 6: one IEMOCAP batch early (every B positive) and one late (L and V negative).",
                 method="last epoch", comparator="first epoch", metric="share of batches with B masked",
                 conditions=("text", "video"), notebook=SHAPLEY,
                 note="per training seed, the share of the epoch's batches where B_m is masked (negative gap), last "
                      "epoch against first, for text and video (L and V); one MCE training per seed on MOSI at "
                      "ordering a; " + upper)


SHAPLEY_CLAIMS = [
    _table6_masking("mce.table6_masking", "U_m scored on the training batch, the data the unimodal models were "
                                          "trained on (as in the authors' code)"),
    # the same with U_m scored on held-out samples (issue 17): U_m on the training batch is U_m on seen data
    _table6_masking("mce.table6_masking_held_out",
                    "U_m scored on held-out samples: a batch's count of m times the unimodal model's accuracy on the "
                    "validation samples that have m; recomputed along the same trainings (the recorded phi_m kept), "
                    "not fed back into training"),
    # the cost claims: every time is a ratio to the same plain step (the concatenation backbone's training step,
    # measured in the same round); a replicate is one round of the interleaved timings
    # Table 8's "the exact Shapley value computation increases processing time by approximately 12x" is not declared
    # as a claim: an MCE step does more than a backbone step by construction, so "slower" cannot come out the other
    # way, and the size of the ratio depends on the implementation (ours reuses L_sub's subset pass). Notebook 03
    # shows the measured ratios beside the paper's; the testable cost claim is the Monte-Carlo one below.
    Claim(id="mce.table8_mc_cheaper", paper=PAPER, section="Sec. 5, Table 8",
          sentence="We consider to employ the Monte Carlo sampling strategy, reducing the complexity to O(K M) ... "
                   "This approximation significantly reduces computational demands.",
          evidence="Table 8: a training step with MC-200 Shapley values takes 232.1 ms against 1046.9 ms exact.",
          method="Monte-Carlo Shapley evaluation (K=100)", comparator="exact Shapley evaluation",
          metric="time (backbone steps)", lower_is_better=True, notebook=SHAPLEY, scale=1.0, unit=" backbone steps",
          note="the coalition evaluation timed as its own cost: each estimate from scratch (encoders, the subsets "
               "it needs, Eq. 5), both with the same forward kind and in units of the same backbone step; the "
               "paper's Table 8 times whole steps in ms on a GPU, not the evaluation alone, so no paper effect in "
               "these units; a replicate is one round of interleaved timings"),
    Claim(id="mce.table8_mc_accuracy", paper=PAPER, section="Sec. 5, Table 8",
          sentence="This approximation significantly reduces computational demands while maintaining competitive "
                   "performance (59.04 vs. 60.93).",
          evidence="Table 8, IEMOCAP: accuracy of MCE with MC-200 against exact Shapley values.",
          # on par within 2 points: the paper itself calls its 1.89-point gap 'competitive'
          method="MCE, Monte-Carlo (K=100)", comparator="MCE, exact Shapley", metric="accuracy", kind="on_par",
          margin=0.02,
          paper_effect=PaperEffect("mce_tables_6_8.csv", "MCE (MC-200 SV)", "MCE (Exact SV)",
                                   where={"table": "Table 8", "metric": "accuracy"}),
          notebook=SHAPLEY, note="K = 100 permutations (the paper's Sec. 5 text; its Table 8 says MC-200)"),
]

REPRESENTATION_CLAIMS = [
    # Table 7 and Fig. 9: MCE against ablation row a, MCE's own model without any enhancement (the backbone with
    # the reconstruction module; the paper's 'baseline (backbone w f_rec)' of Fig. 8), so both fused features come
    # from the same completion model
    Claim(id="mce.table7_ratio", paper=PAPER, section="Sec. 4.5, Table 7",
          sentence="The intra-/inter-ratio improves by 32.0% (from 1.25 to 0.85), demonstrating enhanced "
                   "separation between different classes.",
          evidence="Table 7: the fused features on the IEMOCAP test set, MCE against the baseline.",
          method="mce", comparator="row a", metric="intra/inter ratio", lower_is_better=True,
          paper_effect=PaperEffect("mce_table7_fig9.csv", "MCE", "Baseline",
                                   where={"table": "Table 7", "metric": "intra/inter ratio"}),
          notebook=REPRESENTATIONS, scale=100.0, unit=" hundredths"),
    Claim(id="mce.table7_consistency", paper=PAPER, section="Sec. 4.5, Table 7",
          sentence="The average intra-class cosine consistency increases by 14.1% (from 0.64 to 0.73).",
          evidence="Table 7: the fused features on the IEMOCAP test set, MCE against the baseline.",
          method="mce", comparator="row a", metric="intra-class cosine consistency",
          paper_effect=PaperEffect("mce_table7_fig9.csv", "MCE", "Baseline",
                                   where={"table": "Table 7", "metric": "intra-class cosine consistency"}),
          notebook=REPRESENTATIONS, scale=100.0, unit=" hundredths"),
    Claim(id="mce.table7_intra", paper=PAPER, section="Sec. 4.5, Table 7",
          sentence="The intra-class distance is reduced by 69.0% (from 38.61 to 11.96).",
          evidence="Table 7: the fused features on the IEMOCAP test set, MCE against the baseline.",
          method="mce", comparator="row a", metric="intra-class distance", lower_is_better=True,
          paper_effect=PaperEffect("mce_table7_fig9.csv", "MCE", "Baseline",
                                   where={"table": "Table 7", "metric": "intra-class distance"}),
          notebook=REPRESENTATIONS, scale=1.0, unit="",
          note="a distance in feature units: our features are not the paper's, so only the sign compares",
          paper_comparable=False),
    Claim(id="mce.fig9_video", paper=PAPER, section="Sec. 4.5, Fig. 9",
          sentence="The V modality (80% missing) is nearly ineffective in the baseline model, achieving a capability "
                   "score of only 0.38 ... MCE raises the V modality's performance to 0.66.",
          evidence="Fig. 9, IEMOCAP at (A, L, V) = (0.2, 0.5, 0.8): a new decoder on the frozen encoder.",
          method="mce", comparator=("row a", "concat"), metric="capability", conditions=("video",),
          paper_effect=PaperEffect("mce_table7_fig9.csv", "MCE", "Baseline", where={"table": "Fig. 9"}),
          notebook=REPRESENTATIONS,
          note="against both baselines (Holm): row a and the concatenation backbone"),
    Claim(id="mce.fig9_audio", paper=PAPER, section="Sec. 4.5, Fig. 9",
          sentence="The T2 (BraTS2020) and A (IEMOCAP) modalities, with low missing rates of 20%, also achieve their "
                   "highest capability under our framework.",
          evidence="Fig. 9, IEMOCAP: capability of A; a figure, no numbers in the text.",
          method="mce", comparator=("row a", "concat"), metric="capability", conditions=("audio",),
          notebook=REPRESENTATIONS, note="against both baselines (Holm): row a and the concatenation backbone"),
    Claim(id="mce.fig9_above_upper_bound", paper=PAPER, section="Sec. 4.5, Fig. 9",
          sentence="The multi-modal training process itself enables encoders to surpass their single-modal "
                   "upperbounds.",
          evidence="Fig. 9: MCE's capability per modality against the unimodal upper bound.",
          method="mce", comparator="upper bound (unimodal, Eq. 6)", metric="capability", every=True,
          notebook=REPRESENTATIONS,
          note="every modality on its own (Holm); our upper bound is MCE's frozen unimodal model of Eq. 6, trained "
               "on the modality's available training data (5 epochs at smoke and quick), the paper's on complete "
               "single-modal data; not a same-budget comparison: the upper bound trains its fixed unimodal epochs "
               "(10 at paper) with no kept-epoch selection, MCE the chapter's budget with selection"),
]

WEIGHT_CLAIMS = [
    # 'stable': every setting in [0.1, 5] (one and a half decades around the default) on par with the default
    # within 2 points, the paper's own run-to-run spread of MCE on IEMOCAP (Table 5: 1.0 to 2.0 points)
    Claim(id="mce.fig4_stable", paper=PAPER, section="Sec. 4.3, Fig. 4",
          sentence="Performance remains stable across a wide range of hyperparameter values (lambda_single, "
                   "lambda_sub, lambda_aux) on three different datasets.",
          evidence="Fig. 4: the score as each lambda varies, the other two at (1, 2, 1); a figure, no numbers.",
          method="MCE, one lambda varied", comparator="MCE (1, 2, 1)", metric="accuracy", kind="equivalent",
          margin=0.02, every=True, notebook=WEIGHTS,
          note="stable: each swept value in [0.1, 5] other than the default, on its own, within 2 points of the "
               "default either way (0.1 and 5 at quick; 0.1, 0.5, 1, 2, 5 at paper); MOSI only at quick "
               "(Scene-15 and AudiovisionMNIST join at paper)"),
    # '(1, 2, 1) is optimal': the best other setting of the sweep and the heatmap is chosen on the selection seeds,
    # then it and the default are re-run on fresh seeds (no selection bias); the default is on par within 1 point,
    # below the paper's own run-to-run spread of MCE at ordering a (Table 5: 1.39 points)
    Claim(id="mce.fig56_default_best", paper=PAPER, section="Sec. 4.3, Figs. 5-6",
          sentence="The optimal setting (1, 2, 1) shows a smooth, stable convergence trajectory.",
          evidence="Figs. 5-6: the lambda_sub x lambda_aux heatmap and the loss curves on IEMOCAP.",
          method="MCE (1, 2, 1)", comparator="best other setting", metric="accuracy", kind="on_par", margin=0.01,
          notebook=WEIGHTS,
          note="the best other setting is chosen on the sweep's and heatmap's first two seeds and judged against "
               "the default on fresh seeds (100 on)"),
    Claim(id="mce.fig6_oscillation", paper=PAPER, section="Sec. 4.3, Fig. 6",
          sentence="Other settings, such as (1, 2, 20) (over-weighted L_aux), result in more severe oscillations "
                   "than optimal setting.",
          evidence="Fig. 6: training loss curves on IEMOCAP; a figure, no numbers.",
          method="(1, 2, 20)", comparator="(1, 2, 1)", metric="roughness (second half)", notebook=WEIGHTS,
          scale=100.0, unit=" % of the mean loss",
          note="roughness: mean |step-to-step change| of the total loss over the second half of training, relative "
               "to its mean there; supported when (1, 2, 20) has the larger"),
    Claim(id="mce.fig6_convergence", paper=PAPER, section="Sec. 4.3, Fig. 6",
          sentence="Settings like (0.001, 2, 1) (under-weighted L_single) show an initial rapid decrease in loss but "
                   "fail to fully converge by the end of training.",
          evidence="Fig. 6: training loss curves on IEMOCAP; a figure, no numbers.",
          method="(0.001, 2, 1)", comparator="(1, 2, 1)", metric="task loss, last epoch", notebook=WEIGHTS,
          scale=100.0, unit=" hundredths", note="supported when (0.001, 2, 1) ends at the higher task loss"),
    Claim(id="mce.fig8_rce", paper=PAPER, section="Sec. 4.5, Fig. 8",
          sentence="The ablation model (MCE w/o B) already shows a marked positive improvement in the final "
                   "capability of all modalities compared to the baseline.",
          evidence="Fig. 8: capability per modality over training on IEMOCAP; a figure, no numbers.",
          method="MCE without B", comparator="row a", metric="capability", every=True, notebook=WEIGHTS,
          note="each modality on its own (Holm); capability: a new linear decoder on the frozen encoder after the "
               "last epoch, scored on the complete test split"),
    Claim(id="mce.fig8_b", paper=PAPER, section="Sec. 4.5, Fig. 8",
          sentence="The introduction of the B factor in the full MCE model delivers a further significant boost, "
                   "most notably for the under-performing modalities.",
          evidence="Fig. 8: capability per modality over training on IEMOCAP; a figure, no numbers.",
          method="MCE", comparator="MCE without B", metric="capability", conditions=("video",), notebook=WEIGHTS,
          note="video, the rarest modality (80% missing)"),
]

CLAIMS = MAIN_CLAIMS + ABLATION_CLAIMS + SHAPLEY_CLAIMS + REPRESENTATION_CLAIMS + WEIGHT_CLAIMS
BY_ID = {claim.id: claim for claim in CLAIMS}
assert len(BY_ID) == len(CLAIMS), "claim ids must be unique"


def claims_of(notebook: str) -> list[Claim]:
    """The claims a notebook (``"mce/01_main_tables.ipynb"``) judges, in declaration order."""
    return [claim for claim in CLAIMS if claim.notebook == notebook]
