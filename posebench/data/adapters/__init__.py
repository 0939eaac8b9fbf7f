"""Adapters: community file layouts of Human3.6M and MPI-INF-3DHP -> canonical datasets.

Each adapter module exposes ``read_<layout>(path, name=..., progress=...) ->
dict[split, PoseDataset]`` plus metadata; `posebench.data.prepare.prepare` runs one and
writes the result with `posebench.data.dataset.write_dataset` (atomically). Layouts:

    h36m  videopose3d  data_3d_h36m.npz [+ data_2d_h36m_gt.npz]   (h36m_videopose3d)
    h36m  mmpose       h36m_{train,test}.npz [+ cameras.pkl]       (h36m_mmpose)
    h36m  cdf          D3_Positions_mono/*.cdf [+ D2_Positions]    (h36m_cdf)
    3dhp  mmpose       mpi_inf_3dhp_{train,test_valid}.npz + cameras_{train,test}.pkl
    3dhp  mat          TS1..TS6/annot_data.mat (MATLAB v7.3)        (mpi3dhp_mat)
    mpii  mmpose       annotations/mpii_{train,val}.json + images/  (mpii_mmpose; 2D only,
                       crops rendered at prepare time, option image_size)
"""
