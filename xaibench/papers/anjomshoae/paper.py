"""What the paper itself gives: its title, the few numbers its text prints, its threshold,
the three methods it compares and its claims.

The Fig. 3 scores are printed only inside the figure image and are not transcribed. Fig. 8's
"LIME ... (12 %)" is read as the score of what LIME shows (its top-5 positive super-pixels,
the rest black), the same reading as the CI "(by 99 %)" (the kept high-CI regions).
"""
TITLE = ("Anjomshoae et al. (2021): Visual explanations for DNNs with contextual importance "
         "(MNIST, CI vs masking vs LIME)")

#: numbers the paper's text gives (probabilities), with the figure they come from
PAPER = {
    # Fig. 7 caption: "(a) Explanations for 2 (98.80%) (b) ... for 3 (99.95%) (c) ... for 1
    # (98.21%)"; ``kind``: xaibench's alteration of panel (a) / (b) / (c) (Sec. 4.3:
    # underlines or stray marks, noise, distortion; :func:`.measures.distort`)
    "fig7": {
        "a": {"digit": 2, "score": 0.9880, "what": "underlined 2", "kind": "underline"},
        "b": {"digit": 3, "score": 0.9995, "what": "noisy 3", "kind": "noise"},
        "c": {"digit": 1, "score": 0.9821, "what": "distorted 1", "kind": "elastic"},
    },
    "fig8": {  # Sec. 4.4: true 9 classified as 4
        "predicted": 4, "true": 9,
        "p_predicted": 0.51,         # "classified as number 4 by 51%"
        "p_true": 0.19,              # "the actual class is 9 by 19% probability"
        "lime_predicted": 0.12,      # "LIME gives explanations for class number 4 (12%)"
        "lime_true": 0.06,           # "... for the actual class (6%)"
        "ci_predicted": 0.99,        # "CI features represented for number 4 (by 99%)"
        "ci_true": 0.26,             # "CI for ground truth (9) (by 26%)"
    },
    "fig5": {"digit": 7, "contrast": 2},   # Sec. 4.2: "number 7 ... distinguish it from number 2"
    "fig6": {"digit": 6, "contrast": 5},   # "LIME ... identical explanations for 5 and ... 6"
    "threshold": 0.01,                     # Sec. 3.2: "CI values higher than the threshold (0.01)"
}

#: the three methods of Fig. 4 (Sec. 4.1): key -> name in the comparison
METHODS = {"ci": "contextual importance", "occ": "masking (occlusion)", "lime": "LIME"}

#: the paper's claims, each with the rule that decides it here (:mod:`.claims`, same name)
CLAIMS = {
    "kept_class": "the high-CI regions alone give a class score close to the initial "
                  "prediction (decided: the class is kept in > 50 % of the images)",
    "kept_gain": "omitting the low-importance regions slightly increases the confidence for "
                 "the predicted class (decided: mean kept - whole > 0)",
    "lime_background": "LIME shows parts of the background with positive relevance "
                       "(decided: LIME's background share > CI's)",
    "better_visual": "CI gives the better visual explanation (a human judgement; not "
                     "decidable here)",
    "ci_highest_aopc": "CI explains better than masking and LIME (xaibench's proxy: CI has "
                       "the highest AOPC)",
    "lime_same_for_classes": "LIME very often gives the same explanation for different "
                             "classes, CI does not (decided: LIME's mean r > CI's)",
    "altered_recognised": "despite the noise and distortion the digits are recognised correctly "
                          "with high confidence (decided: all three correct, score >= 0.9)",
    "robust_under_noise": "CI provides robust explanations under noise (decided: mean r > 0.5)",
    "kept_beats_whole": "the kept high-CI regions of the predicted class score higher than "
                        "the whole image",
    "kept_predicted_beats_true": "the kept high-CI regions score higher for the predicted "
                                 "than for the true class",
}
