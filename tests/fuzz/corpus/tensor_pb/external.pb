BWj
location../w.binj
offset0j
length16p