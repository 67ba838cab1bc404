"""vmswap web app: configure VMs and policies, watch policy A against policy B frame by frame."""
