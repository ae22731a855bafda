"""In-place ops on views under autograd in PyTorch 1.13.1 (CopySlices, AsStridedBackward0): the values
tests/autograd/view_inplace_test.cc expects. Run with Debian's python3-torch: /usr/bin/python3 tools/view_inplace_reference.py
"""
import torch
x = torch.tensor([[-1.,2.,-3.],[4.,-5.,6.]], requires_grad=True)
y = x * 2
v = y[0]
v.relu_()
print(y.grad_fn, v.grad_fn, y._version, v._version)
w = y[1]
(y.sum() + (v*3).sum() + (w*5).sum()).backward()
print(x.grad)
x.grad=None
y = x*2
a = y[:, 1]
b = y[0]
y.mul_(3)
print(a.grad_fn, b.grad_fn)
(a.sum()*2 + b.sum()).backward()
print(x.grad)
z = torch.zeros(3)
s = torch.tensor([1.,2.], requires_grad=True)
z[1:].copy_(s)
print(z.grad_fn, z.requires_grad, z.is_leaf)
(z*torch.tensor([1.,10.,100.])).sum().backward()
print(s.grad)
q = torch.zeros(3); r = q[0:2]; q.requires_grad_()
try:
  r.mul_(2)
except Exception as e: print('ERR', e)
y = x*2
t = y.t()
t[0].mul_(10)
print(y.grad_fn, t.grad_fn)
x.grad=None
y.sum().backward(); print(x.grad)
# view created before, used after in-place on another view (overlapping)
x.grad=None
y = x*1
a = y[0]
b = y[0, 1:]
a.mul_(3)
print(b.grad_fn)
b.sum().backward(); print(x.grad)
# leaf no-grad base, view of view
m = torch.zeros(2,3)
mv = m[1][1:]
mv.add_(s)
print(m.grad_fn, mv.grad_fn)
s.grad=None
(m*m).sum().backward(); print(s.grad)
