"""Generator training: the GAN iterations of PATN / PoNA / APS / SAN (`gan`) and GFLA (`gfla_training`), and their
losses."""
