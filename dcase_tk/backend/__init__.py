"""Classical back ends for fixed-size embeddings (x-vectors now, i-vectors later): centring,
(regularised) LDA and length normalisation (``lda``), class-mean cosine scoring and the whole
pipeline saved as a plain ``.npz`` (``cosine``).

Like ``dcase_tk.nnet`` it knows nothing of data directories: arrays in, arrays out.
"""
