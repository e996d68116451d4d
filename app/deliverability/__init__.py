"""Deliverability: what receivers demand of bulk mail before they accept it."""
