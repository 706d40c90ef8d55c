"""line_group_bytes.py - L2-to-SM bytes per live block per token of a "line group" forward (G block
rows of the C 1600 fcproj weight per CTA, walking the union of their column lists; BM-token tiles) on
random masks, rows grouped in order or greedily by smallest union; today's kernel moves 128 + 8192/256.
   python3 dev/scratch/line_group_bytes.py
"""
import numpy as np
rng=np.random.default_rng(7)
def greedy(M,G):
    rows=list(range(M.shape[0])); groups=[]
    while rows:
        r=rows.pop(0); g=[r]
        while len(g)<G and rows:
            u=M[g].any(0)
            best=min(rows,key=lambda q:(u|M[q]).sum())
            g.append(best); rows.remove(best)
        groups.append(g)
    return groups
for sp in [0.5,0.7,0.8,0.9,0.95]:
    for G,BM in [(2,256),(3,256),(3,128),(5,128)]:
        res=[]
        for d in range(20):
            M=rng.random((25,100))>sp
            live=M.sum()
            for mode in ['seq','greedy']:
                gs=[list(range(i,min(i+G,25))) for i in range(0,25,G)] if mode=='seq' else greedy(M,G)
                union=sum(M[g].any(0).sum() for g in gs)
                res.append((mode,128*union/live+8192/BM))
        seq=np.mean([b for a,b in res if a=='seq']); gr=np.mean([b for a,b in res if a=='greedy'])
        print(f"sp {sp} G {G} BM {BM}: B/live block/token in-order {seq:5.1f}, greedy {gr:5.1f} (today {128+8192/256:.0f})")
